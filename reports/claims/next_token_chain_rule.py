r"""The next-token loop's chain rule: a Markov chain of tokens, refit by its bigram MLE, is never farther from the
truth's law of sequences than its token-level errors add up to,

.. math:: \mathrm{TV}(\hat P_i, P) \le \mathrm{TV}(\hat\mu_i, \mu) + \sum_a w_a\,\mathrm{TV}(\hat T_{i,a}, T_a),
    \qquad w_a = \sum_{t=0}^{L-2} P(x_t = a),

a deterministic inequality per run (a coupling that agrees until a token's law differs; docs/theory.md, section 11.6).
Every run is checked against its own token-level errors (:class:`selfloop.simulators.NextTokenErrors`), so each run's
exact sequence TV (a sum over the :math:`K^L` sequences) is tested against an independent computation, and the ratio
says how much a token-level view overstates the sequence-level error.
"""

from __future__ import annotations

import numpy as np

from ..cells import CellSpec
from .base import Cell, register_claim
from .discrete_cells import next_token_loop
from .theorem_g import PerRunClaim

__all__ = ["NextTokenChainRule"]


class NextTokenChainRule(PerRunClaim):
    id = "next_token_chain_rule"
    label = "Next-token chain rule"
    statement = "Next-token loop: the sequence TV is at most the token-level errors (chain rule), every run"
    whose = "beyond the paper, rigorous"
    tested_by = "exact sequence TV against token-level errors (per run)"

    def applies(self, spec: CellSpec) -> bool:
        return next_token_loop(spec)

    def measures(self, spec: CellSpec) -> tuple[str, ...]:
        return ("next_token",)

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        initial, transition = cell.measured["initial_error"], cell.measured["transition_error"]
        return {
            "upper": np.minimum(initial + transition, 1.0),
            "initial_error": initial,
            "transition_error": transition,
        }


register_claim(NextTokenChainRule())
