r"""Markov chains of tokens and their bigram fit: the next-token face of language-model collapse.

A :class:`MarkovChain` is a law of sequences :math:`x_0 \dots x_{L-1}` over K symbols,

.. math:: P(x) = \mu(x_0) \prod_{t=1}^{L-1} T(x_{t-1}, x_t),

a truth and a fitted model alike; its points are integer sequences of shape (n, L). TV between two chains of one length
is an exact sum over the :math:`K^L` sequences where they can be listed (:func:`selfloop.simulators.tv`), else the
unbiased Monte Carlo estimate from the exact log probabilities, with its standard error.

:class:`BigramMLE` fits the initial law from the first tokens and each row of T from the transitions out of that
context, with add-:math:`\alpha` smoothing. A context that never occurs in the training sequences (possible only
unsmoothed) has no data: its row falls back to the fitted unigram law of the next tokens (every token at positions
1..L-1), and the fit counts such contexts (``unseen_contexts``, recorded by the loop per replicate and generation).
"""

from __future__ import annotations

import numpy as np

from .categorical import check_probability_rows, check_symbols
from .keys import content_key
from .metrics import MAX_ENUMERATED
from .validation import check_nonnegative, check_size

__all__ = ["BigramMLE", "MarkovChain"]


class MarkovChain:
    r"""A first-order Markov law of sequences of ``length`` tokens over K symbols.

    Parameters
    ----------
    initial : array_like (K,)
        :math:`\mu`, the law of the first token.
    transition : array_like (K, K)
        :math:`T`, each row a law of the next token given the current one.
    length : int
        L, tokens per sequence.

    Examples
    --------
    >>> chain = MarkovChain([1.0, 0.0], [[0.5, 0.5], [0.0, 1.0]], 3)
    >>> chain.support_probabilities().tolist()  # 000, 001, 010, 011, 100, ...
    [0.25, 0.25, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, initial, transition, length: int, *, unseen_contexts: int = 0) -> None:
        self.initial = check_probability_rows("initial", initial)
        if self.initial.ndim != 1:
            raise ValueError(f"initial must have shape (K,), got {self.initial.shape}")
        symbols = self.initial.size
        self.transition = check_probability_rows("transition", transition, (symbols, symbols))
        self.length = check_size("length", length)
        self.unseen_contexts = int(unseen_contexts)
        self._cumulative_initial = np.cumsum(self.initial) / self.initial.sum()
        self._cumulative_rows = np.cumsum(self.transition, axis=1)
        self._cumulative_rows /= self._cumulative_rows[:, -1:]

    @property
    def symbols(self) -> int:
        return self.initial.size

    @property
    def dim(self) -> int:
        """A point is a sequence: d = L."""
        return self.length

    @property
    def key(self) -> str:
        return content_key("markov-chain", self.initial, self.transition, [self.length])

    @property
    def support(self) -> tuple:
        return ("sequences", self.symbols, self.length)

    @property
    def support_size(self) -> int:
        return self.symbols**self.length

    def __repr__(self) -> str:
        return f"MarkovChain(symbols={self.symbols}, length={self.length})"

    def support_probabilities(self) -> np.ndarray:
        """The probability of every sequence, in lexicographic order (sequence j has tokens the base-K digits of j).

        Raises
        ------
        ValueError
            When :math:`K^L` exceeds :data:`selfloop.simulators.metrics.MAX_ENUMERATED`.
        """
        if self.support_size > MAX_ENUMERATED:
            raise ValueError(
                f"length: {self.symbols}^{self.length} sequences are too many to list (at most {MAX_ENUMERATED}); "
                "TV then takes the Monte Carlo route"
            )
        table = self.initial
        for _ in range(1, self.length):  # extend every sequence by one token: its last token is its index mod K
            table = (table[:, None] * self.transition[np.arange(table.size) % self.symbols]).ravel()
        return table

    def _tokens(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Points as integer tokens (n, L) and whether each is a sequence of the chain's symbols."""
        array = np.asarray(x, dtype=float)
        if array.ndim != 2 or array.shape[1] != self.length:
            raise ValueError(f"x must have shape (n, {self.length}), got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError("x contains NaN or infinite values")
        valid = np.all((array >= 0) & (array < self.symbols) & (np.rint(array) == array), axis=1)
        return np.where(valid[:, None], array, 0).astype(np.int64), valid

    def logpdf(self, x) -> np.ndarray:
        r""":math:`\log P(x)` per sequence (-inf for a sequence of mass 0 or of other symbols)."""
        tokens, valid = self._tokens(x)
        with np.errstate(divide="ignore"):
            log_initial, log_transition = np.log(self.initial), np.log(self.transition)
        out = log_initial[tokens[:, 0]] + log_transition[tokens[:, :-1], tokens[:, 1:]].sum(axis=1)
        return np.where(valid, out, -np.inf)

    def pdf(self, x) -> np.ndarray:
        """:math:`P(x)`, the density with respect to counting measure."""
        return np.exp(self.logpdf(x))

    def pmf(self, x) -> np.ndarray:
        return self.pdf(x)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. sequences, integers of shape (n, L): each token by the inverse transform of a uniform draw."""
        n = check_size("n", n)
        uniforms = rng.random((n, self.length))
        out = np.empty((n, self.length), dtype=np.int64)
        out[:, 0] = self._cumulative_initial.searchsorted(uniforms[:, 0], side="right")
        for t in range(1, self.length):
            rows = self._cumulative_rows[out[:, t - 1]]
            out[:, t] = np.minimum((rows <= uniforms[:, t, None]).sum(axis=1), self.symbols - 1)
        return out

    def entropy(self) -> float:
        r"""The entropy of the law of sequences (nats): the first token's, plus each next token's given its context,
        :math:`H(\mu) + \sum_{t=1}^{L-1}\sum_a P(x_{t-1} = a) H(T_a)`."""
        with np.errstate(divide="ignore", invalid="ignore"):
            rows = -np.where(self.transition > 0, self.transition * np.log(self.transition), 0.0).sum(axis=1)
            first = -np.where(self.initial > 0, self.initial * np.log(self.initial), 0.0).sum()
        return float(first + self.marginals()[:-1].sum(axis=0) @ rows)

    def marginals(self) -> np.ndarray:
        """The law of each position's token, (L, K)."""
        out = np.empty((self.length, self.symbols))
        out[0] = self.initial
        for t in range(1, self.length):
            out[t] = out[t - 1] @ self.transition
        return out


class BigramMLE:
    r"""The bigram (first-order Markov) fit of sequences of L tokens over K symbols, with add-:math:`\alpha` smoothing:
    :math:`\hat\mu_k = (c_k + \alpha)/(n + K\alpha)` from the first tokens and
    :math:`\hat T(a, b) = (c_{ab} + \alpha)/(c_a + K\alpha)` from the transitions. An unseen context (:math:`c_a = 0`,
    unsmoothed) gets the fitted unigram law of the next tokens; the fit counts them (``unseen_contexts``).
    """

    def __init__(self, symbols: int, smoothing: float = 0.0) -> None:
        self.symbols = check_size("symbols", symbols)
        self.smoothing = check_nonnegative("smoothing", smoothing)

    def __repr__(self) -> str:
        return f"BigramMLE(symbols={self.symbols}, smoothing={self.smoothing:g})"

    def fit(self, data, rng: np.random.Generator | None = None) -> MarkovChain:
        """Fit on sequences ``data`` (n, L) of symbols in 0..K-1."""
        tokens = check_symbols("data", data, self.symbols)
        count, length = tokens.shape
        symbols, alpha = self.symbols, self.smoothing
        first = np.bincount(tokens[:, 0], minlength=symbols)
        initial = (first + alpha) / (count + symbols * alpha)
        if length == 1:  # no transition is ever used: the rows are the initial law
            return MarkovChain(initial, np.tile(initial, (symbols, 1)), 1)
        pairs = np.bincount((tokens[:, :-1] * symbols + tokens[:, 1:]).ravel(), minlength=symbols * symbols)
        counts = pairs.reshape(symbols, symbols).astype(float)
        totals = counts.sum(axis=1)
        unseen = totals + symbols * alpha == 0
        transition = (counts + alpha) / np.where(unseen, 1.0, totals + symbols * alpha)[:, None]
        if np.any(unseen):
            next_tokens = counts.sum(axis=0)
            transition[unseen] = next_tokens / next_tokens.sum()
        return MarkovChain(initial, transition, length, unseen_contexts=int(unseen.sum()))

    def parameters(self, fitted: MarkovChain) -> dict[str, np.ndarray]:
        """The number of contexts the fit never saw (their rows are the unigram fallback)."""
        return {"unseen_contexts": np.asarray(float(fitted.unseen_contexts))}
