r"""Measures of discrete fits: what the language-model face of collapse is read in.

- :class:`Entropy` (``entropy``): the fit's entropy in nats; of a Markov chain, of its law of sequences,
  :math:`H(\mu) + \sum_{t=1}^{L-1}\sum_a P(x_{t-1} = a) H(T_a)`;
- :class:`SymbolsLost` (``symbols_lost``): how many symbols a categorical fit gives probability 0 (lost for ever by an
  unsmoothed maximum-likelihood loop without real data);
- :class:`TotalCollapse` (``total_collapse``): whether a categorical fit is a point mass;
- :class:`NextTokenErrors` (``next_token``): a Markov chain's token-level errors against the truth's, the first-token
  law's TV and the next-token rows' TVs weighted by how often the truth visits each context,
  :math:`\sum_a w_a \mathrm{TV}(\hat T_a, T_a)`, :math:`w_a = \sum_{t=0}^{L-2} P(x_t = a)`. Their sum bounds the TV of
  the sequence laws (the chain rule: a coupling that agrees until a token's law differs).
"""

from __future__ import annotations

import numpy as np

from .categorical import Categorical
from .measures import MEASURES, GenerationStep, LoopSpec
from .sequences import MarkovChain

__all__ = ["Entropy", "NextTokenErrors", "SymbolsLost", "TotalCollapse", "token_errors"]


def token_errors(truth: MarkovChain, fitted: MarkovChain) -> tuple[float, float]:
    """The first-token law's TV and the context-weighted next-token TVs, :math:`\\sum_a w_a \\mathrm{TV}(\\hat T_a, T_a)`
    with the truth's occupancies :math:`w_a` (module docstring)."""
    first = 0.5 * float(np.abs(fitted.initial - truth.initial).sum())
    weights = truth.marginals()[:-1].sum(axis=0)
    rows = 0.5 * np.abs(fitted.transition - truth.transition).sum(axis=1)
    return first, float(weights @ rows)


class Entropy:
    """The entropy of every fit (nats): a categorical law's, or a Markov chain's law of sequences."""

    name, fields = "entropy", ("entropy",)

    def start(self, loop: LoopSpec) -> None:
        if not isinstance(loop.truth, (Categorical, MarkovChain)):
            raise ValueError(
                f"entropy: measured for categorical laws and Markov chains, not {type(loop.truth).__name__}"
            )

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        return {"entropy": np.array([fit.entropy() for fit in step.fits])}


class SymbolsLost:
    """How many of a categorical fit's symbols have probability 0."""

    name, fields = "symbols_lost", ("symbols_lost",)

    def start(self, loop: LoopSpec) -> None:
        if not isinstance(loop.truth, Categorical):
            raise ValueError(f"symbols_lost: measured for categorical laws, not {type(loop.truth).__name__}")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        return {"symbols_lost": np.array([np.count_nonzero(fit.probabilities == 0) for fit in step.fits], float)}


class TotalCollapse:
    """Whether a categorical fit is a point mass (total collapse: every point the same symbol), 1.0 or 0.0 per fit;
    unsmoothed and without real data it is absorbing, so the first generation at 1 is the time of total collapse
    (its exact law: ``categorical_collapse_time``, bounds/categorical.py)."""

    name, fields = "total_collapse", ("total_collapse",)

    def start(self, loop: LoopSpec) -> None:
        if not isinstance(loop.truth, Categorical):
            raise ValueError(f"total_collapse: measured for categorical laws, not {type(loop.truth).__name__}")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        return {"total_collapse": np.array([float(fit.probabilities.max() >= 1.0 - 1e-12) for fit in step.fits])}


class NextTokenErrors:
    """A fitted chain's token-level errors against the truth chain (:func:`token_errors`): the fields
    ``initial_error`` and ``transition_error``."""

    name, fields = "next_token", ("initial_error", "transition_error")

    def start(self, loop: LoopSpec) -> None:
        if not isinstance(loop.truth, MarkovChain):
            raise ValueError(f"next_token: measured for a Markov-chain truth, not {type(loop.truth).__name__}")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        rows = np.array([token_errors(step.loop.truth, fit) for fit in step.fits])
        return {"initial_error": rows[:, 0], "transition_error": rows[:, 1]}


for _measure in (Entropy, SymbolsLost, TotalCollapse, NextTokenErrors):
    MEASURES.register(_measure.name, _measure)
