r"""The numerics of the categorical loop's count chains (:func:`selfloop.bounds.categorical_law`): every symbol's
count propagated a generation at a time, all symbols at once.

A state is a window of counts and their probabilities. Binomials are evaluated where Chernoff's bound leaves more than
:data:`TAIL` of their mass, and a state's tails below :data:`TAIL` are trimmed; every mass so dropped is returned, so
the law can bound what it changes. Where the counts of a fixed split are few (at most :data:`DENSE_ENTRIES` pairs of a
count and a draw), one transition matrix serves every symbol (a matrix product); otherwise each state's draws are taken
in its own window, the states grouped by width so that padding costs at most twice the work. Binomial probabilities
come from a table of log factorials: relative rounding about :math:`3\varepsilon\log(n!)`, 1e-11 at n = 10 000.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

__all__ = ["DENSE_ENTRIES", "TAIL", "Binomials", "advance", "buckets", "padded"]

#: Mass below which a binomial's tail is not evaluated and a state's tail is trimmed (each drop is counted).
TAIL = 1e-16
_LOG_TAIL = -np.log(TAIL)


def _relative_entropy(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`\\mathrm{KL}(\\mathrm{Bern}(a)\\,\\|\\,\\mathrm{Bern}(x))`, elementwise (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.xlogy(a, a / x) + special.xlogy(1 - a, (1 - a) / (1 - x))


def _binomial_window(trials: int, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts [low, high] outside which :math:`\\mathrm{Bin}(n, x)` has at most 2 :data:`TAIL` of its mass: by
    Chernoff's bound :math:`P(B \\ge k) \\le e^{-n\\,\\mathrm{KL}(k/n \\| x)}` for k above the mean (and its mirror
    below), each end found by bisection on :math:`n\\,\\mathrm{KL} = \\log(1/\\mathrm{TAIL})`."""
    x = np.asarray(probability, dtype=float)
    ends = []
    for far in (0.0, 1.0):
        near, outer = x.copy(), np.full(x.shape, far)
        reaches = trials * _relative_entropy(outer, x) >= _LOG_TAIL  # else the whole side is kept
        for _ in range(40):
            middle = 0.5 * (near + outer)
            inside = trials * _relative_entropy(middle, x) < _LOG_TAIL
            near, outer = np.where(inside, middle, near), np.where(inside, outer, middle)
        ends.append(np.where(reaches, outer, far) * trials)
    low = np.where(x >= 1, trials, np.clip(np.floor(ends[0]), 0, trials)).astype(np.int64)  # a point mass at n
    return low, np.where(x <= 0, 0, np.clip(np.ceil(ends[1]), 0, trials)).astype(np.int64)  # or at 0


class Binomials:
    """Binomial probabilities from a table of log factorials and the logs of the success probabilities, taken once per
    probability and broadcast over the counts (not two special functions per pair)."""

    def __init__(self, largest: int) -> None:
        self.log_factorial = special.gammaln(np.arange(largest + 1) + 1.0)

    def __call__(self, values: np.ndarray, trials: int, probability: np.ndarray) -> np.ndarray:
        """:math:`P(B = \\text{values})`, ``values`` (..., m) within each probability's window (so a count above 0 has
        a probability above 0 and one below ``trials`` a probability below 1); ``probability`` (..., 1)."""
        table = self.log_factorial
        with np.errstate(divide="ignore"):
            log_success = np.where(probability > 0, np.log(probability), 0.0)
            log_failure = np.where(probability < 1, np.log1p(-probability), 0.0)
        log = table[trials] - table[values] - table[trials - values] + values * (log_success - log_failure)
        return np.exp(log + trials * log_failure)


def _scatter(masses: np.ndarray, target: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``masses`` (n, ...), the sums of its entries by ``target`` count: the rows' lowest counts (n,) and
    their probabilities from there, (n, span), padded with zeros."""
    rows = masses.shape[0]
    flat_target = np.where(valid, target, np.iinfo(np.int64).max).reshape(rows, -1)
    base = flat_target.min(axis=1)
    offset = np.where(valid.reshape(rows, -1), flat_target - base[:, None], 0)
    span = int(offset.max()) + 1
    index = (np.arange(rows)[:, None] * span + offset).ravel()
    weights = np.where(valid, masses, 0.0).ravel()
    return base, np.bincount(index, weights=weights, minlength=rows * span).reshape(rows, span)


def _trimmed(base: np.ndarray, rows: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], np.ndarray]:
    """Each row's tails below :data:`TAIL` of its mass dropped: the states (offset, probabilities) and the masses
    dropped."""
    rows = np.maximum(rows, 0.0)
    keep = rows > TAIL * rows.sum(axis=1, keepdims=True)
    low = keep.argmax(axis=1)
    high = rows.shape[1] - keep[:, ::-1].argmax(axis=1)
    states, dropped = [], np.empty(rows.shape[0])
    for index, (start, row, first, last) in enumerate(zip(base, rows, low, high)):
        states.append((int(start + first), row[first:last].copy()))
        dropped[index] = row[:first].sum() + row[last:].sum()
    return states, dropped


def padded(states: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States of unequal widths as one array: offsets (n,), probabilities (n, W) padded with zeros, and where real."""
    widths = np.array([state.size for _, state in states])
    filled = np.arange(widths.max()) < widths[:, None]
    values = np.zeros(filled.shape)
    values[filled] = np.concatenate([state for _, state in states])
    return np.array([offset for offset, _ in states], dtype=np.int64), values, filled


#: Largest transition matrix (counts x draws) built whole for the synthetic draws of a fixed split; above it the
#: draws are taken in each count's window.
DENSE_ENTRIES = 1 << 22


def _synthetic_draws(
    offsets: np.ndarray,
    values: np.ndarray,
    filled: np.ndarray,
    synthetic: int,
    fit_of: Callable[[np.ndarray], np.ndarray],
    previous_size: int,
    accumulate: bool,
    binomials: Binomials,
) -> tuple[np.ndarray, np.ndarray]:
    """The law of each row's count after its synthetic draws, :math:`\\kappa c + B`, :math:`B \\sim \\mathrm{Bin}(s, x(c))`:
    the rows' lowest counts and their probabilities from there."""
    counts = offsets[:, None] + np.arange(values.shape[1])
    reach = previous_size + 1 + (synthetic if accumulate else 0)  # the counts after the draws: 0..reach - 1
    if (previous_size + 1) * max(synthetic + 1, reach if accumulate else 0) <= DENSE_ENTRIES:
        # one matrix M[c, kc + b] = Bin(b; s, x(c)) over every count c serves every symbol
        every = np.arange(previous_size + 1)
        whole = np.zeros((values.shape[0], previous_size + 1))
        whole[np.nonzero(filled)[0], counts[filled]] = values[filled]
        low, high = _binomial_window(synthetic, fit_of(every))
        draws = np.arange(synthetic + 1)
        inside = (draws >= low[:, None]) & (draws <= high[:, None])
        clipped = np.clip(draws, low[:, None], high[:, None])
        matrix = np.where(inside, binomials(clipped, synthetic, fit_of(every)[:, None]), 0.0)
        if accumulate:  # the draws land on top of the count: row c shifted right by c
            shifted = np.zeros((previous_size + 1, reach))
            shifted[every[:, None], every[:, None] + draws] = matrix
            matrix = shifted
        return np.zeros(values.shape[0], dtype=np.int64), whole @ matrix
    fits = np.where(filled, fit_of(counts), 0.0)
    low, high = _binomial_window(synthetic, fits)
    low, high = np.where(filled, low, 0), np.where(filled, high, 0)
    draws = low[..., None] + np.arange(int((high - low).max()) + 1)
    valid = (draws <= high[..., None]) & filled[..., None]
    draws = np.minimum(draws, high[..., None])
    masses = values[..., None] * binomials(draws, synthetic, fits[..., None])
    return _scatter(masses, draws + counts[..., None] if accumulate else draws, valid)


def advance(
    states: list[tuple[int, np.ndarray]],
    fit_of: Callable[[np.ndarray], np.ndarray],
    previous_size: int,
    real: int,
    synthetic: int,
    probabilities: np.ndarray,
    accumulate: bool,
    binomials: Binomials,
) -> tuple[list[tuple[int, np.ndarray]], np.ndarray]:
    """One generation of the symbols' count chains, all at once: counts ``offset + j`` with probabilities ``state[j]``
    and fits ``fit_of(c)``; returns the next states and the mass each dropped."""
    offsets, values, filled = padded(states)
    if synthetic:
        base, mixed = _synthetic_draws(offsets, values, filled, synthetic, fit_of, previous_size, accumulate, binomials)
    elif accumulate:
        base, mixed = offsets, values
    else:
        base, mixed = np.zeros(len(states), dtype=np.int64), values.sum(axis=1, keepdims=True)
    if real:  # each row convolved with its symbol's Bin(r, p): a shift-and-add over the draws' window
        low, high = _binomial_window(real, probabilities)
        width = int((high - low).max()) + 1
        draws = low[:, None] + np.arange(width)
        inside = draws <= high[:, None]
        real_masses = np.where(inside, binomials(np.minimum(draws, high[:, None]), real, probabilities[:, None]), 0.0)
        convolved = np.zeros((mixed.shape[0], mixed.shape[1] + width - 1))
        for shift in range(width):
            convolved[:, shift : shift + mixed.shape[1]] += mixed * real_masses[:, shift : shift + 1]
        base, mixed = base + low, convolved
    return _trimmed(base, mixed)


def buckets(states: list[tuple[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """The states grouped by the power of two of their widths (padding to a group's widest costs at most 2x)."""
    widths = np.array([state.size for _, state in states])
    keys = np.ceil(np.log2(widths)).astype(int)
    return {int(key): np.flatnonzero(keys == key) for key in np.unique(keys)}
