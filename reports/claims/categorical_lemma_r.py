r"""Lemma R on the categorical learner (the paper's route on a third model class; docs/theory.md, section 11.4): the
registered one-step error of the add-:math:`\alpha` fit propagated through the loop
(:func:`selfloop.bounds.categorical_tv_bound`).
"""

from __future__ import annotations

from selfloop.bounds import categorical_tv_bound

from .base import register_claim
from .discrete_cells import CategoricalBoundClaim

__all__ = ["CategoricalLemmaR"]


class CategoricalLemmaR(CategoricalBoundClaim):
    id = "categorical_lemma_r"
    label = "Categorical Lemma R"
    statement = "Categorical MLE loop: errors propagate as Lemma R says (the paper's route, a third model class)"
    whose = "paper's route, re-derived"
    bound = "categorical_one_step"
    function = staticmethod(categorical_tv_bound)


register_claim(CategoricalLemmaR())
