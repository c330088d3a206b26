r"""Theorem K (Fu et al., re-derived): the KDE loop's E TV_i, rigorous with explicit constants.

Values per cell: the bound (``upper``) and its terms, the exact smoothing bias B (``bias``) and the sampling bound
(``sampling``). Where Theorem K's parts are defined (a fixed bandwidth, fresh real data, no accumulation, d <= 2) the
loop also measures the sampling error :math:`S_i = \mathrm{TV}(\hat p_i, K_h * q_i)`, and the values say where the
bound is loose: ``sampling_measured`` (± ``sampling_stderr``) against ``sampling``, and Lemma R on the measured
B + E S (``propagated_measured``) against the mean TV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import kde_bound_terms
from selfloop.bounds.recursion import propagate_scenario
from selfloop.simulators import standard_truth

from ..cells import CellSpec
from ..records import ResultsDocument
from ..text import bound_rows, sides_of
from ..verdicts import replicate_mean
from .base import Cell, register_claim
from .kde_cells import KDEBoundClaim, kde_terms

__all__ = ["FRESH_KINDS", "TheoremK"]

#: The scenario kinds with fresh real data and nothing accumulated: the paper's setting.
FRESH_KINDS = ("fully_synthetic", "mixed_fresh", "growing_synthetic")


def _decomposed(spec: CellSpec) -> bool:
    """Where Theorem K's parts are measured: a fixed-bandwidth KDE, fresh real data, no accumulation, d <= 2."""
    scenario = spec.scenario
    return (
        spec.model.name == "kde"
        and "bandwidth" in spec.model
        and not (scenario.accumulate or scenario.reuse_real)
        and standard_truth(spec.truth).dim <= 2
    )


class TheoremK(KDEBoundClaim):
    id = "theorem_k"
    line_style = "--"
    phase_curve = "rescaled"
    label = "Theorem K"
    statement = "TV stays controlled when N or λ is large (KDE)"
    whose = "paper, re-derived"
    bound = "kde_theorem_k_step"

    def measures(self, spec: CellSpec) -> tuple[str, ...]:
        return ("sampling_error",) if _decomposed(spec) else ()

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        """Theorem K at the cell's fresh-data scenario, its terms, and its measured parts where measured."""
        terms = kde_terms("theorem_k", kde_bound_terms, cell)
        values = {"upper": terms.total, "bias": terms.bias, "sampling": terms.sampling}
        sampled = cell.measured.get("sampling_error")
        if sampled is not None:
            measured, values["sampling_stderr"] = replicate_mean(sampled)
            values["sampling_measured"] = measured
            values["propagated_measured"] = propagate_scenario(terms.bias + measured, cell.scenario)
        return values

    def rows(self, document: ResultsDocument) -> list[tuple]:
        cells = document.cells
        rows = [
            (self.statement, self.whose, "Theorem K", sides_of(cells, self.id, FRESH_KINDS)),
            (
                "Errors propagate through mixed data with factor (1 − λ) (KDE)",
                self.whose,
                "Theorem K (mixed cells)",
                sides_of(cells, self.id, ("mixed_fresh",)),
            ),
            (
                "Accumulating data: growth like log i (KDE)",
                "beyond the paper",
                "Theorem K",
                sides_of(cells, self.id, ("accumulate",)),
            ),
            (
                "Reused real pool (independence broken)",
                "outside the theory",
                "Theorem K at fresh values",
                sides_of(cells, self.id, ("mixed_reused",), outside=True),
            ),
        ]
        return bound_rows(rows)

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Where Theorem K's slack is: its parts at the last generation, measured and bounded."""
        chosen = [
            cell
            for cell in document.cells
            if "sampling_measured" in (cell.claims[self.id].values if self.id in cell.claims else {})
        ]
        if not chosen:
            return []
        lines = [
            "## Where Theorem K's slack is",
            "",
            "Theorem K bounds E TV_i by Lemma R applied to B + S̄_k: the exact smoothing bias B plus a bound S̄_k on the sampling error "
            "E S_k = E TV(p̂_k, K_h * q_k). Here E S_k is measured on the same replicates, so the two sources of slack separate: "
            "the sampling bound (S̄ / E S, from Var ≤ second moment and Jensen) and the propagation (the triangle inequality adds "
            "every generation's error although they partly cancel: Lemma R on the measured B + E S, against the mean TV). At the last generation:",
            "",
            "| cell | B | E S (measured ± se) | S̄ (bound) | S̄ / E S | mean TV | Lemma R on B + E S | Theorem K | propagation / mean TV | Theorem K / mean TV |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            values = cell.claims[self.id].values
            last = len(values["bias"]) - 1
            measured, bound = values["sampling_measured"][last], values["sampling"][last]
            mean, propagated = cell.summary["mean"][last], values["propagated_measured"][last]
            lines.append(
                f"| {cell.label} | {values['bias'][last]:.4f} | {measured:.4f} ± {values['sampling_stderr'][last]:.4f} | {bound:.4f} | "
                f"{bound / measured:.2f} | {mean:.4f} | {propagated:.4f} | {values['upper'][last]:.4f} | {propagated / mean:.2f} | "
                f"{values['upper'][last] / mean:.2f} |"
            )
        return lines + [""]


register_claim(TheoremK())
