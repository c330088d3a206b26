r"""The categorical loop's exact laws: each symbol's count is a Markov chain of its own.

A categorical law :math:`p` on K symbols is refit by :math:`\hat p_k = (c_k + \alpha)/(N + K\alpha)` on each
generation's N training points (:class:`selfloop.simulators.CategoricalMLE`). Given the previous fit, the r fresh real
points and the s synthetic ones are independent, so the count of symbol k in the next training set is

.. math:: c' = \kappa\,c + A + B, \qquad A \sim \mathrm{Bin}(r, p_k), \quad B \sim \mathrm{Bin}(s, \hat p_k),

with :math:`\kappa = 1` when the data accumulate and 0 otherwise. :math:`\hat p_k` depends on the past only through
:math:`c_k`, so each symbol's count is a Markov chain on its own (Wright-Fisher's, fully synthetic), although the
symbols are dependent on one another. Every expectation of a sum over symbols of a function of one symbol's fit is
therefore exact from K small chains: :math:`E\,\mathrm{TV}_i = \tfrac12\sum_k E|\hat p_{k,i} - p_k|`, the probability
that a symbol is lost (:math:`\hat p_{k,i} = 0`, unsmoothed), the expected entropy and :math:`E\|\hat p_i - p\|^2`.

The chains are propagated all symbols at once (:mod:`selfloop.bounds.count_chains`): one transition matrix where the
counts are few, else windows of the counts outside which Chernoff's bound leaves at most
:data:`selfloop.bounds.count_chains.TAIL` of a binomial's mass; every mass dropped is counted, and
:attr:`CategoricalLaw.tolerance` bounds what it can change in :math:`E\,\mathrm{TV}_i`. The work grows with the
windows, at most as :math:`O(N^2)` per symbol and generation (times in docs/performance.md). The first two moments need
no chain: they follow an exact affine recursion (:func:`categorical_moments`), for any sizes.

Reference: docs/theory.md, section 11.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from selfloop.simulators import Categorical, Scenario
from selfloop.simulators.validation import check_nonnegative

from .count_chains import Binomials, advance, buckets, padded

__all__ = [
    "CategoricalLaw",
    "categorical_collapse_time",
    "categorical_expected_tv",
    "categorical_law",
    "categorical_loss_probability",
    "categorical_moments",
    "categorical_schedule",
    "categorical_squared_error",
    "checked_probabilities",
    "checked_smoothing",
]


@dataclass(frozen=True)
class CategoricalLaw:
    r"""The exact laws of the categorical loop, per generation i = 0..G.

    Attributes
    ----------
    expected_tv : ndarray (G + 1,)
        :math:`E\,\mathrm{TV}(\hat p_i, p)`.
    tolerance : ndarray (G + 1,)
        An upper bound on the absolute error of ``expected_tv`` (the mass the windows dropped).
    loss_probability : ndarray (G + 1, K)
        :math:`P(\hat p_{k,i} = 0)`: 0 when smoothed.
    expected_fit : ndarray (G + 1, K)
        :math:`E\hat p_{k,i}`.
    squared_error : ndarray (G + 1,)
        :math:`E\|\hat p_i - p\|^2`.
    expected_entropy : ndarray (G + 1,)
        :math:`E\,H(\hat p_i)` (nats).
    fixation_probability : ndarray (G + 1, K)
        :math:`P(\hat p_{k,i} = 1)`: the fit's whole mass on symbol k (0 when smoothed).
    """

    expected_tv: np.ndarray
    tolerance: np.ndarray
    loss_probability: np.ndarray
    expected_fit: np.ndarray
    squared_error: np.ndarray
    expected_entropy: np.ndarray
    fixation_probability: np.ndarray

    @property
    def collapse_probability(self) -> np.ndarray:
        r""":math:`P(\hat p_i` is a point mass), the total collapse, (G + 1,): the symbols' fixations are disjoint."""
        return np.clip(self.fixation_probability.sum(axis=1), 0.0, 1.0)

    @property
    def expected_lost(self) -> np.ndarray:
        """The expected number of symbols lost, :math:`\\sum_k P(\\hat p_{k,i} = 0)`, (G + 1,)."""
        return self.loss_probability.sum(axis=1)


def checked_probabilities(probabilities) -> np.ndarray:
    """``probabilities`` as a categorical law's (validated and renormalised as :class:`Categorical` does)."""
    return Categorical(probabilities).probabilities


def checked_smoothing(smoothing: float) -> float:
    return check_nonnegative("smoothing", smoothing)


def categorical_schedule(
    scenario: Scenario, generations: int, sizes: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per generation i = 0..G: the training size :math:`N_i`, and the real and synthetic points drawn for it
    (:math:`r_0 = N_0`, :math:`s_0 = 0`), and whether the data accumulate.

    ``sizes`` (fresh data only) replaces the scenario's sizes by a schedule :math:`N_0..N_G` (growing sample sizes),
    each generation keeping the scenario's real fraction, :math:`r_i = \\mathrm{round}(\\lambda N_i)`.
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.reuse_real:
        raise ValueError("scenario: a reused real pool makes the generations dependent; the laws are for fresh data")
    if scenario.fit_size is not None:
        raise ValueError("scenario: the categorical laws are derived for fits on every point, not a subsampled pool")
    generations = int(generations)
    if generations < 0:
        raise ValueError(f"generations must be >= 0, got {generations}")
    if sizes is not None:
        if scenario.accumulate:
            raise ValueError("sizes: a schedule of sizes is for fresh data with a fixed split, not accumulating")
        total = np.asarray(sizes)
        if total.shape != (generations + 1,) or np.any(total < 1) or np.any(total != np.round(total)):
            raise ValueError(f"sizes must be {generations + 1} positive integers, got {sizes!r}")
        total = total.astype(np.int64)
        real = np.rint(scenario.real_fraction * total).astype(np.int64)
        real[0] = total[0]
        return total, real, total - real, False
    total = scenario.training_sizes(generations).astype(np.int64)
    real = np.full(generations + 1, scenario.real, dtype=np.int64)
    synthetic = np.full(generations + 1, scenario.synthetic, dtype=np.int64)
    real[0], synthetic[0] = scenario.initial, 0
    return total, real, synthetic, scenario.accumulate


# ----------------------------------------------------------------------------------------- moments
def categorical_moments(
    probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0, sizes: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(E\hat p_{k,i}, E\hat p_{k,i}^2)`, each (G + 1, K), exactly, by the affine recursion of the count's first two
    moments (docs/theory.md, section 11.3).

    With :math:`x = (c + \alpha)/D`, :math:`D = N + K\alpha`: :math:`E[c' \mid c] = \kappa c + rp + sx` and
    :math:`\operatorname{Var}[c' \mid c] = rp(1-p) + sx(1-x)`, so :math:`(Ec', Ec'^2)` is affine in :math:`(Ec, Ec^2)`.
    ``sizes`` is a schedule of training sizes (growing sample sizes; see :func:`categorical_schedule`).
    """
    p = checked_probabilities(probabilities)
    alpha, symbols = checked_smoothing(smoothing), p.size
    total, real, synthetic, accumulate = categorical_schedule(scenario, generations, sizes)
    first = real[0] * p
    second = real[0] * p * (1 - p) + first**2
    means: list[np.ndarray] = []
    squares: list[np.ndarray] = []
    for i in range(len(total)):
        if i:
            r, s = real[i], synthetic[i]
            fit, fit_square = means[-1], squares[-1]  # the previous generation's E x, E x^2
            denominator = total[i - 1] + symbols * alpha
            cross = (second + alpha * first) / denominator  # E[c x]
            variance = r * p * (1 - p) + s * (fit - fit_square)
            if accumulate:
                second = (
                    variance
                    + second
                    + (r * p) ** 2
                    + s**2 * fit_square
                    + 2 * r * p * first
                    + 2 * s * cross
                    + 2 * r * p * s * fit
                )
                first = first + r * p + s * fit
            else:
                second = variance + (r * p) ** 2 + 2 * r * p * s * fit + s**2 * fit_square
                first = r * p + s * fit
        denominator = total[i] + symbols * alpha
        means.append((first + alpha) / denominator)
        squares.append((second + 2 * alpha * first + alpha**2) / denominator**2)
    return np.array(means), np.array(squares)


def categorical_squared_error(
    probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0, sizes: Sequence[int] | None = None
) -> np.ndarray:
    r""":math:`E\|\hat p_i - p\|^2 = \sum_k (E\hat p_{k,i}^2 - 2p_k E\hat p_{k,i} + p_k^2)`, (G + 1,), exactly
    (:func:`categorical_moments`); unsmoothed and fully synthetic,
    :math:`\sum_k p_k(1 - p_k)\,(1 - (1 - 1/N)^{i+1})` (Seddik et al.'s recursion)."""
    p = checked_probabilities(probabilities)
    mean, square = categorical_moments(p, scenario, generations, smoothing=smoothing, sizes=sizes)
    return np.maximum(square - 2 * p * mean + p**2, 0.0).sum(axis=1)


def categorical_law(probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0) -> CategoricalLaw:
    """The exact laws of the categorical loop (module docstring): fixed splits (fully synthetic, mixed with fresh real
    data, growing synthetic) and accumulating data; a reused real pool is refused. Symbols of equal probability share
    a chain; the chains advance together, grouped by the widths of their windows.

    Examples
    --------
    >>> law = categorical_law([0.5, 0.3, 0.2], Scenario.fully_synthetic(20), 3)
    >>> law.loss_probability[0].round(6).tolist()  # P(c = 0) = (1 - p)^N at generation 0
    [1e-06, 0.000798, 0.011529]
    """
    p = checked_probabilities(probabilities)
    alpha = checked_smoothing(smoothing)
    symbols = p.size
    total, real, synthetic, accumulate = categorical_schedule(scenario, generations, None)
    distinct, inverse = np.unique(p, return_inverse=True)
    binomials = Binomials(int(total.max() + max(real.max(), synthetic.max()) + 1))
    empty = [(0, np.ones(1))] * distinct.size  # generation 0: N_0 real points onto no data
    states, dropped = advance(empty, np.asarray, 0, int(total[0]), 0, distinct, False, binomials)
    width = len(total)
    summaries = np.zeros((7, width, distinct.size))  # |x - p|, lost, E x, E x^2, entropy, dropped so far, fixed
    for i in range(width):
        if i:
            following: list = [None] * distinct.size
            drop = np.zeros(distinct.size)

            def fit_of(counts: np.ndarray, size: Any = total[i - 1]) -> np.ndarray:
                return (counts + alpha) / (size + symbols * alpha)

            for members in buckets(states).values():
                advanced, lost_mass = advance(
                    [states[m] for m in members],
                    fit_of,
                    int(total[i - 1]),
                    int(real[i]),
                    int(synthetic[i]),
                    distinct[members],
                    accumulate,
                    binomials,
                )
                for member, state in zip(members, advanced):
                    following[member] = state
                drop[members] = lost_mass
            states, dropped = following, dropped + drop
        offsets, values, filled = padded(states)
        fits = np.where(
            filled, (offsets[:, None] + np.arange(values.shape[1]) + alpha) / (total[i] + symbols * alpha), 0.0
        )
        summaries[0, i] = np.sum(values * np.abs(fits - distinct[:, None]), axis=1)
        summaries[1, i] = np.where((offsets == 0) & (alpha == 0), values[:, 0], 0.0)
        summaries[2, i], summaries[3, i] = np.sum(values * fits, axis=1), np.sum(values * fits**2, axis=1)
        summaries[4, i] = -np.sum(values * special.xlogy(fits, fits), axis=1)
        summaries[5, i] = dropped
        counts = offsets[:, None] + np.arange(values.shape[1])
        summaries[6, i] = np.sum(np.where(filled & (counts == total[i]) & (alpha == 0), values, 0.0), axis=1)
    absolute, lost, fit_mean, fit_square, entropy, dropped_mass, fixed = summaries
    counted = np.bincount(inverse, minlength=distinct.size)
    return CategoricalLaw(
        expected_tv=np.clip(0.5 * absolute @ counted, 0.0, 1.0),
        tolerance=0.5 * dropped_mass @ counted,
        loss_probability=lost[:, inverse],
        expected_fit=fit_mean[:, inverse],
        squared_error=(fit_square - 2 * distinct * fit_mean + distinct**2) @ counted,
        expected_entropy=entropy @ counted,
        fixation_probability=fixed[:, inverse],
    )


def categorical_expected_tv(
    probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0
) -> np.ndarray:
    r""":math:`E\,\mathrm{TV}_i`, (G + 1,), exactly (:func:`categorical_law`)."""
    return categorical_law(probabilities, scenario, generations, smoothing=smoothing).expected_tv


def categorical_loss_probability(
    probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0
) -> np.ndarray:
    r""":math:`P(\hat p_{k,i} = 0)`, (G + 1, K), exactly (:func:`categorical_law`); fully synthetic, a symbol with
    count c at generation 0 is lost for ever with probability 1 - c/N (the count is a martingale absorbed at 0 and N)."""
    return categorical_law(probabilities, scenario, generations, smoothing=smoothing).loss_probability


def categorical_collapse_time(probabilities, size: int, generations: int) -> tuple[float, float]:
    r"""The fully synthetic loop's generation of total collapse T (the first whose fit is a point mass; absorbing):
    :math:`E\min(T, G + 1) = \sum_{i=0}^{G} P(T > i)` from the exact chains, and :math:`P(T > G)`, what the truncation
    leaves out (:math:`E\,T` lies between the first and the first plus :math:`P(T > G)` times the rest's mean).

    Examples
    --------
    >>> mean, tail = categorical_collapse_time(np.full(10, 0.1), 10, 200)
    >>> tail < 1e-6
    True
    """
    law = categorical_law(probabilities, Scenario.fully_synthetic(size), generations)
    survival = 1.0 - law.collapse_probability
    return float(survival.sum()), float(survival[-1])
