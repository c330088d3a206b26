"""Theorem D, certified: Lemma R applied to each run's certified one-step errors eps_i (Theorem G against the
training distribution q_i = lambda p0 + (1 - lambda) p_{i-1}), a per-run bound on TV_i with no fitted constant.

It exists where every certified eps_i is finite: fresh real data, nothing accumulated (:mod:`selfloop.bounds.certification`).
"""

from __future__ import annotations

import numpy as np

from selfloop.bounds import propagate

from .base import Cell, register_claim
from .theorem_g import CertifiedClaim

__all__ = ["TheoremDCertified"]


class TheoremDCertified(CertifiedClaim):
    id = "theorem_d_certified"
    label = "Theorem D, certified"
    statement = "Diffusion: errors propagate as Lemma R says, on certified ε_i (Theorem D, certified)"
    whose = "paper's claim, certified per fit (rigorous)"
    in_cell_table = False  # its runs are in Theorem G's section

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        steps = cell.measured["certified_one_step"]
        if not np.all(np.isfinite(steps)):
            return {}
        propagated = np.minimum(propagate(steps, cell.real_fraction), 1.0)  # TV <= 1 whatever Lemma R says
        return {"upper": propagated, "certified_one_step": steps}


register_claim(TheoremDCertified())
