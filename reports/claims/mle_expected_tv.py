r"""The Gaussian MLE loop's exact :math:`E\,\mathrm{TV}_i` (beyond the paper): the simulated mean TV against the exact
chain of the fitted statistics (:func:`selfloop.bounds.mle_expected_tv`), and how far the rigorous ``mle_tv`` bound is
from it.

Per generation: the replicates' mean TV and its standard error, the chain's :math:`E\,\mathrm{TV}_i` and its standard
error, and, where ``mle_tv`` applies, its ratio to the exact value. The law holds in a cell when every z-score of the
difference (both standard errors combined) is below :data:`selfloop.reports.verdicts.LAW_Z`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import mle_bound_for, mle_expected_tv
from selfloop.simulators.persistent import cached

from ..cells import CellSpec
from ..fingerprint import code_fingerprint
from ..records import ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import law_check, replicate_mean
from .base import Cell, Claim, register_claim
from .gaussian_mle import gaussian_mle_loop, has_exact_laws

__all__ = ["MLEExpectedTV", "exact_expected_tv"]

#: Chains of the exact law per cell: a relative standard error near 0.2% in 1-D (docs/performance.md), far below the
#: replicates' own (400 replicates: about 3%), so the z-score is the simulation's.
DRAWS = 100_000


def exact_expected_tv(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """(E TV_i, its standard error) of the cell's setting, seed 0: it depends on the setting alone, so it is kept in
    the persistent cache."""
    truth, scenario = cell.truth, cell.scenario
    key = (
        truth.key,
        repr(sorted(scenario.to_dict().items())),
        cell.generations,
        DRAWS,
    )

    def compute() -> tuple[np.ndarray, np.ndarray]:
        law = mle_expected_tv(truth, scenario, cell.generations, draws=DRAWS, seed=0)
        return law.mean, law.standard_error

    return cached("claims.mle_expected_tv", key, compute, version=code_fingerprint())


class MLEExpectedTV(Claim):
    id = "mle_expected_tv"
    label = "Gaussian MLE exact E TV"
    statement = "Gaussian MLE loop: the mean TV is the exact E TV_i of the chain of the fitted statistics"
    whose = "beyond the paper, exact law"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        """The Gaussian MLE (``ddof`` 0) on a Gaussian truth, every scenario but a reused or subsampled pool, in any
        dimension (the chains refit by maximum likelihood on every point they are given)."""
        return (
            gaussian_mle_loop(spec) and not spec.model.get("ddof", 0) and spec.scenario.kind != "accumulate_subsample"
        )

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        measured, measured_stderr = replicate_mean(cell.tv)
        exact, exact_stderr = exact_expected_tv(cell)
        values = {
            "measured": measured,
            "measured_stderr": measured_stderr,
            "exact": exact,
            "exact_stderr": exact_stderr,
        }
        if has_exact_laws(cell.spec):
            values["bound_ratio"] = mle_bound_for(cell.truth, cell.scenario, cell.generations) / exact
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        """Every generation's z-score of the mean TV against the exact law below the limit."""
        return {
            "law": law_check(values["measured"], values["measured_stderr"], values["exact"], values["exact_stderr"])
        }

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        ratios = np.concatenate([cell.claims[self.id].values.get("bound_ratio", []) for cell in chosen], dtype=float)
        tightness = (
            f"mle_tv / exact E TV: median {np.median(ratios):.2f} (range {ratios.min():.2f}–{ratios.max():.2f})"
            if ratios.size
            else "no mle_tv cell"
        )
        return [
            (
                self.statement,
                self.whose,
                "exact chain, every generation",
                str(len(chosen)),
                law_outcome(chosen, self.id),
                tightness,
            )
        ]

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Per cell, at the last generation: the mean TV, the exact E TV, the z-score, and mle_tv's ratio to the law."""
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        lines = [
            "## The Gaussian MLE loop: the exact E TV",
            "",
            "Given the last fit, a generation's sample mean and scatter have exact laws (Gaussian and Wishart, independent), "
            "and the real and synthetic groups pool exactly, so the loop is a Markov chain of its sufficient statistics "
            "(docs/theory.md, section 9.4). Each cell's mean TV is compared with E TV_i from "
            f"{DRAWS:,} chains at every generation, and the rigorous bound *Gaussian MLE* (`mle_tv`) is put beside it.",
            "",
            "| cell | mean TV at the last generation ± se | exact E TV ± se | max abs z | mle_tv / exact (median, range) | law |",
            "|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            values, verdict = cell.claims[self.id].values, cell.claims[self.id].verdicts["law"]
            ratio = np.asarray(values.get("bound_ratio", []), dtype=float)
            ratio_text = f"{np.median(ratio):.2f} ({ratio.min():.2f}–{ratio.max():.2f})" if ratio.size else "no bound"
            lines.append(
                f"| {cell.label} | {values['measured'][-1]:.4f} ± {values['measured_stderr'][-1]:.4f} | "
                f"{values['exact'][-1]:.4f} ± {values['exact_stderr'][-1]:.4f} | {verdict['max_abs_z']:.2f} | "
                f"{ratio_text} | {'holds' if verdict['holds'] else '**REJECTED**'} |"
            )
        return lines + [""]


register_claim(MLEExpectedTV())
