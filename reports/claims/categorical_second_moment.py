r"""The categorical loop's second-moment bound (beyond the paper, rigorous; docs/theory.md, section 11.4):
:math:`E\,\mathrm{TV}_i \le \tfrac12\sum_k b(p_k, E\hat p_{k,i}, E\hat p_{k,i}^2)`, the largest mean absolute deviation a fit
with the loop's exact first two moments can have, per symbol (:func:`selfloop.bounds.categorical_second_moment_bound`).
"""

from __future__ import annotations

from selfloop.bounds import categorical_second_moment_bound

from .base import register_claim
from .discrete_cells import CategoricalBoundClaim

__all__ = ["CategoricalSecondMoment"]


class CategoricalSecondMoment(CategoricalBoundClaim):
    id = "categorical_second_moment"
    label = "Categorical second-moment"
    statement = "Categorical MLE loop: E TV_i within the exact second moments' bound"
    whose = "beyond the paper, rigorous"
    bound = "categorical_symbol_error"
    function = staticmethod(categorical_second_moment_bound)


register_claim(CategoricalSecondMoment())
