"""The second-moment bound and Jensen's lower bound: E TV_i of the KDE loop sandwiched by the exact mean and
variance of the fitted density (rigorous, beyond the paper).

Values per cell: ``upper`` (the second-moment bound), ``lower`` (Jensen: TV(E p̂_i, p0) <= E TV_i) and the
folded-normal predictor ``folded_normal`` (not a bound: shown beside them).
"""

from __future__ import annotations

import numpy as np

from selfloop.bounds import kde_second_moment_terms

from ..records import ResultsDocument
from ..text import bound_rows, finite_tightness, sides_of
from .base import Cell, register_claim
from .kde_cells import KDEBoundClaim, kde_terms
from .theorem_k import FRESH_KINDS

__all__ = ["SecondMoment"]


class SecondMoment(KDEBoundClaim):
    id = "second_moment"
    label = "second-moment"
    statement = "Near-exact error curve: E TV_i within a sandwich (KDE)"
    whose = "beyond the paper"
    bound = "kde_second_moment"
    lower = "kde_jensen_lower"
    lower_label = "Jensen lower"
    line_style = ":"
    phase_curve = "as is"

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        terms = kde_terms("second_moment", kde_second_moment_terms, cell)
        return {"upper": terms.upper, "lower": terms.lower, "folded_normal": terms.folded_normal}

    def headline(self, document: ResultsDocument) -> list[str]:
        """How the lower side fared: refuted and underpowered counts, the median tightness."""
        jensen = sides_of(document.cells, self.id, side="lower")
        if not jensen:
            return []
        tightness = np.median([x for side in jensen for x in finite_tightness(side)])
        return [
            f"- **Jensen lower bound** TV(E p̂_i, p0) <= E TV_i (rigorous): refuted in "
            f"{sum(side['verdict']['refuted'] for side in jensen)} of {len(jensen)} cells, "
            f"{sum(side['verdict']['underpowered'] for side in jensen)} of them underpowered "
            f"(lower bound / mean median {tightness:.2f}): "
            "a lower bound on a small mean is hard to refute with TV in [0, 1] alone."
        ]

    def rows(self, document: ResultsDocument) -> list[tuple]:
        cells = document.cells
        rows = [
            (self.statement, self.whose, "second-moment (upper)", sides_of(cells, self.id, FRESH_KINDS)),
            ("… its lower side, Jensen", self.whose, "Jensen lower", sides_of(cells, self.id, FRESH_KINDS, "lower")),
            (
                "Accumulating data: growth like log i (KDE)",
                self.whose,
                "second-moment",
                sides_of(cells, self.id, ("accumulate",)),
            ),
            (
                "Reused real pool (independence broken)",
                "outside the theory",
                "second-moment at fresh values",
                sides_of(cells, self.id, ("mixed_reused",), outside=True),
            ),
        ]
        return bound_rows(rows)


register_claim(SecondMoment())
