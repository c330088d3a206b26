r"""Categorical laws on the symbols 0..K-1 and their maximum-likelihood fit: the unigram face of language-model collapse.

A categorical law is a truth and a fitted model alike (:class:`Categorical`): its points are integers of shape (n, 1),
its density is the probability mass function (a density with respect to counting measure), and TV between two laws on
the same symbols is exact, :math:`\tfrac12\sum_k |p_k - q_k|` (:class:`selfloop.simulators.protocol.FiniteSupport`).

:class:`CategoricalMLE` refits it by maximum likelihood with add-:math:`\alpha` smoothing,

.. math:: \hat p_k = \frac{c_k + \alpha}{N + K\alpha},

where :math:`c_k` counts the symbol k among the N training points. Unsmoothed (:math:`\alpha = 0`) the fully synthetic
loop is the Wright-Fisher chain of population genetics: a symbol whose count reaches 0 is lost for ever, and the law
collapses to a point mass (docs/theory.md, section 11).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .degenerate import DegenerateFit
from .keys import content_key
from .protocol import OneAtATime
from .validation import check_data, check_nonnegative, check_size

__all__ = ["Categorical", "CategoricalMLE", "check_probability_rows", "check_symbols", "zipf"]


def check_probability_rows(name: str, values, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``values`` as probabilities along the last axis: finite, non-negative, each row summing to 1 (to 1e-9, then
    renormalised)."""
    array = np.asarray(values, dtype=float)
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if array.ndim < 1 or array.shape[-1] < 1:
        raise ValueError(f"{name} must list at least one probability, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    totals = array.sum(axis=-1, keepdims=True)
    if np.any(np.abs(totals - 1.0) > 1e-9):
        raise ValueError(f"{name} must sum to 1 (each row), got sums {np.unique(np.round(totals, 12))[:4]}")
    return array / totals


def check_symbols(name: str, data, symbols: int, width: int | None = None) -> np.ndarray:
    """``data`` as an integer array (n, width) of symbols in 0..symbols-1; a non-integer or out-of-range value raises a
    ``ValueError`` that names ``name``."""
    array = check_data(name, data, width)
    integers = np.rint(array)
    if np.any(integers != array):
        raise ValueError(f"{name} must hold integer symbols, got a value such as {array[integers != array][0]!r}")
    if np.any(integers < 0) or np.any(integers >= symbols):
        raise ValueError(
            f"{name} must hold symbols in 0..{symbols - 1}, got values from {integers.min():g} to {integers.max():g}"
        )
    return integers.astype(np.int64)


class Categorical:
    r"""A law on the symbols 0..K-1, :math:`P(X = k) = p_k`: a truth and a fitted model alike.

    Parameters
    ----------
    probabilities : array_like (K,)
        Non-negative, summing to one (to 1e-9; they are then renormalised).

    Examples
    --------
    >>> die = Categorical([0.5, 0.3, 0.2])
    >>> die.sample(4, np.random.default_rng(0)).ravel().tolist(), die.pmf([[0], [2], [3]]).tolist()
    ([1, 0, 0, 0], [0.5, 0.2, 0.0])
    """

    dim = 1
    probabilities: np.ndarray
    _cumulative: np.ndarray

    def __init__(self, probabilities) -> None:
        checked = check_probability_rows("probabilities", probabilities)
        if checked.ndim != 1:
            raise ValueError(f"probabilities must have shape (K,), got {checked.shape}")
        self.__dict__.update(vars(self._valid(checked[None])[0]))  # one path that stores a law, checked here or a fit's

    @classmethod
    def _valid(cls, probabilities: np.ndarray) -> list[Categorical]:
        """Laws from stacked rows already valid (R, K), the constructor's checks skipped (a fit's counts imply them)."""
        cumulative = np.cumsum(probabilities, axis=1)
        cumulative /= cumulative[:, -1:]
        laws = []
        for row, cumulative_row in zip(probabilities, cumulative):
            law = cls.__new__(cls)
            law.probabilities, law._cumulative = row, cumulative_row
            laws.append(law)
        return laws

    @property
    def symbols(self) -> int:
        """K, the number of symbols."""
        return self.probabilities.size

    @property
    def key(self) -> str:
        """A content key of the law (:class:`selfloop.simulators.protocol.Truth`)."""
        return content_key("categorical", self.probabilities)

    @property
    def support(self) -> tuple:
        return ("symbols", self.symbols)

    @property
    def support_size(self) -> int:
        return self.symbols

    def support_probabilities(self) -> np.ndarray:
        """:math:`(p_0, \\dots, p_{K-1})`."""
        return self.probabilities

    def __repr__(self) -> str:
        return f"Categorical(symbols={self.symbols})"

    def pmf(self, x) -> np.ndarray:
        """:math:`P(X = x)` at points ``x`` (n, 1); 0 at a point that is no symbol of the law."""
        points = check_data("x", x, 1)[:, 0]
        inside = (points >= 0) & (points < self.symbols) & (np.rint(points) == points)
        out = np.zeros(points.size)
        out[inside] = self.probabilities[points[inside].astype(np.int64)]
        return out

    def pdf(self, x) -> np.ndarray:
        """The density with respect to counting measure: :meth:`pmf`."""
        return self.pmf(x)

    def logpdf(self, x) -> np.ndarray:
        """:math:`\\log P(X = x)` (-inf where the mass is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.pmf(x))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. symbols in the order drawn, integers of shape (n, 1) (inverse transform of uniform draws)."""
        n = check_size("n", n)
        return self._cumulative.searchsorted(rng.random(n), side="right")[:, None].astype(np.int64)

    def entropy(self) -> float:
        """:math:`-\\sum_k p_k \\log p_k` (nats)."""
        positive = self.probabilities[self.probabilities > 0]
        return float(-(positive * np.log(positive)).sum())


def zipf(symbols: int, exponent: float) -> Categorical:
    r"""The Zipf law :math:`p_k \propto (k + 1)^{-s}` on K symbols: the long tail of a vocabulary."""
    symbols = check_size("symbols", symbols)
    if not np.isfinite(exponent) or exponent <= 0:
        raise ValueError(f"exponent must be a positive number, got {exponent!r}")
    weights = np.arange(1, symbols + 1, dtype=float) ** -float(exponent)
    return Categorical(weights / weights.sum())


class CategoricalMLE(OneAtATime):
    r"""The maximum-likelihood fit of a law on K symbols, with add-:math:`\alpha` smoothing:
    :math:`\hat p_k = (c_k + \alpha)/(N + K\alpha)`.

    A chunk's training sets are fitted at once (:meth:`fit_batch`: one count of every set) and its fits sampled at once
    (:meth:`sample_batch`: every replicate's uniforms from its own generator, one inverse transform), each exactly what
    it is alone.

    Parameters
    ----------
    symbols : int
        K.
    smoothing : float
        :math:`\alpha \ge 0` (0: the MLE, whose lost symbols stay lost; > 0 keeps every symbol alive).
    """

    def __init__(self, symbols: int, smoothing: float = 0.0) -> None:
        self.symbols = check_size("symbols", symbols)
        self.smoothing = check_nonnegative("smoothing", smoothing)

    def __repr__(self) -> str:
        return f"CategoricalMLE(symbols={self.symbols}, smoothing={self.smoothing:g})"

    def fit(self, data, rng: np.random.Generator | None = None) -> Categorical:
        """Fit on ``data`` (N, 1), symbols in 0..K-1."""
        return self.fit_batch([data])[0]

    def fit_batch(self, data: Sequence, rngs: Sequence[np.random.Generator] | None = None) -> list[Categorical]:
        """Fit each of ``data`` (:class:`selfloop.simulators.protocol.BatchFitting`): one count of every set."""
        sizes = [np.shape(points)[0] for points in data]
        symbols = check_symbols("data", np.concatenate([np.asarray(points) for points in data]), self.symbols, 1)
        rows = np.repeat(np.arange(len(sizes)), sizes)
        counts = np.bincount(rows * self.symbols + symbols[:, 0], minlength=len(sizes) * self.symbols)
        return self.from_counts(counts.reshape(len(sizes), self.symbols))

    def fit_weighted_batch(
        self, data: Sequence, weights: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> list[Categorical]:
        """Each of ``data`` (N, 1) fitted with point weights ``weights`` (N,) summing to 1
        (:class:`selfloop.simulators.protocol.WeightedFitting`): the weighted frequencies :math:`\tilde p`, smoothed as
        counts :math:`N \tilde p` are."""
        size = np.shape(data[0])[0]
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (size,) or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be {size} non-negative numbers summing to 1")
        symbols = check_symbols("data", np.concatenate([np.asarray(points) for points in data]), self.symbols, 1)
        rows = np.repeat(np.arange(len(data)), size)
        frequencies = np.bincount(
            rows * self.symbols + symbols[:, 0], weights=np.tile(weights, len(data)), minlength=len(data) * self.symbols
        )
        return self.from_counts(size * frequencies.reshape(len(data), self.symbols))

    def from_counts(self, counts) -> list[Categorical]:
        """The fits on training sets with these counts per symbol, one row (K,) a set."""
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        totals = counts.sum(axis=1, keepdims=True) + self.symbols * self.smoothing
        if np.any(totals <= 0):
            raise DegenerateFit("data: no points and no smoothing, the fit is undefined")
        return Categorical._valid((counts + self.smoothing) / totals)

    def sample_batch(
        self, fits: Sequence[Categorical], n: int, rngs: Sequence[np.random.Generator]
    ) -> list[np.ndarray]:
        """``[fits[r].sample(n, rngs[r])]``, drawn at once: row r's cumulative law shifted by r, one search."""
        uniforms = np.stack([rng.random(n) for rng in rngs])
        shift = np.arange(len(fits))[:, None]
        cumulative = (np.stack([fit._cumulative for fit in fits]) + shift).ravel()
        found = cumulative.searchsorted((uniforms + shift).ravel(), side="right").reshape(uniforms.shape)
        return list((found - shift * fits[0].symbols)[:, :, None].astype(np.int64))

    def parameters(self, fitted: Categorical) -> dict[str, np.ndarray]:
        """The fitted probabilities, (K,) (:class:`selfloop.simulators.protocol.ParametricModel`)."""
        return {"probabilities": fitted.probabilities}
