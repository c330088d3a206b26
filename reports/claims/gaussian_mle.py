"""The Gaussian MLE loop's TV bound (``mle_tv``): E TV_i bounded through the exact moment laws of the fitted
parameters (rigorous, beyond the paper): the smaller of a triangle route (Devroye, Mehrabian and Reddad's same-mean
bound, the exact mean shift, Jensen and Cauchy-Schwarz) and, in 1-D, a Hellinger route (the Bhattacharyya coefficient
and the log variance's second moment)."""

from __future__ import annotations

import numpy as np

from selfloop.bounds import mle_bound_for
from selfloop.simulators import GaussianMixture, standard_truth

from ..cells import CellSpec
from ..records import CellRecord, ResultsDocument
from ..text import outcome_row, sides_of
from .base import Cell, Claim, register_claim

__all__ = ["GaussianMLEClaim", "gaussian_mle_loop", "has_exact_laws"]


def gaussian_mle_loop(spec: CellSpec) -> bool:
    """A loop of the Gaussian MLE on a single-Gaussian truth with fresh or accumulated data (not a reused real pool,
    which makes the generations dependent through the pool): where the Gaussian MLE loop's laws are stated."""
    if spec.model.name != "mle" or spec.kind != "loop":
        return False
    if spec.scenario.kind in ("mixed_reused", "weighted") or spec.model.get("covariance") is not None:
        return False  # a reused pool makes generations dependent; weighted or known-covariance fits: optimal_weight
    truth = standard_truth(spec.truth)
    return isinstance(truth, GaussianMixture) and truth.components == 1


def has_exact_laws(spec: CellSpec) -> bool:
    """A loop of the maximum-likelihood fit (``ddof`` 0) where the exact second moments close, which the TV bound and
    the exact E TV are built on: in 1-D every scenario but a subsampled pool, in d > 1 fully synthetic (the Wishart
    chain)."""
    return (
        gaussian_mle_loop(spec)
        and not spec.model.get("ddof", 0)
        and spec.scenario.kind != "accumulate_subsample"
        and (standard_truth(spec.truth).dim == 1 or spec.scenario.kind == "fully_synthetic")
    )


class GaussianMLEClaim(Claim):
    id = "gaussian_mle"
    label = "Gaussian MLE"
    statement = "Gaussian MLE loop: E TV_i bounded by the exact moment laws"
    whose = "beyond the paper, rigorous"
    bound = "mle_tv"
    line_style = (0, (1, 1))

    def table_note(self, cells: list[CellRecord]) -> list[str]:
        if not any(cell.spec.model["name"] == "mle" and not cell.claims for cell in cells):
            return []
        return [
            "Gaussian MLE rows on a multimodal truth are descriptive: a single Gaussian is misspecified there, so no bound "
            "applies; on a Gaussian truth they carry the exact laws and the TV bound (section *The Gaussian MLE loop*).",
            "",
        ]

    def applies(self, spec: CellSpec) -> bool:
        return has_exact_laws(spec)

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        return {"upper": mle_bound_for(cell.truth, cell.scenario, cell.generations)}

    def rows(self, document: ResultsDocument) -> list[tuple]:
        found = sides_of(document.cells, self.id)
        return (
            [(self.statement, self.whose, "Gaussian MLE (Hellinger or DMR + moments)", *outcome_row(found))]
            if found
            else []
        )


register_claim(GaussianMLEClaim())
