r"""Theorem D (Fu et al. with Li et al.'s rate): the diffusion loop's E TV_i, Lemma R on
:math:`\varepsilon(N) = \sqrt{\tfrac12(C_1 N^{-2/5} + C_2 m^{-4/5})}` with calibrated constants.

The constants are fitted per model family on generation 0 of the suite's calibration cells (:meth:`TheoremD.prepare`,
with a bootstrap interval), then the multi-generation prediction is checked on the disjoint loop cells. Values per
cell: the bound (``upper``) and, where the loop measured Lemma R's one-step errors, the two claims of Lemma R apart:
the measured :math:`\varepsilon_i` (``eps_measured`` ± ``eps_stderr``) against the calibrated
:math:`\varepsilon(N_i)` (``eps_calibrated``), and Lemma R on the measured :math:`\varepsilon_i`
(``lemma_r_measured``) against the mean TV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from selfloop.bounds import calibrate, calibrated_constants, get_bound, learner_error_bound_for
from selfloop.bounds.diffusion import calibration_upper
from selfloop.bounds.recursion import propagate_scenario

from ..cells import CellSpec
from ..records import CellRecord, CellResult, ResultsDocument
from ..text import outcome_row, sides_of
from ..verdicts import replicate_mean
from .base import Cell, Claim, register_claim
from .diffusion_cells import diffusion_family, diffusion_loop

__all__ = ["CALIBRATION_BOOTSTRAP", "TheoremD"]

#: Bootstrap resamples of the calibration cells' replicates behind the constants' intervals.
CALIBRATION_BOOTSTRAP = 200


def _calibrate_cells(chosen: list[CellResult], seed: int = 0) -> dict:
    """(C1, C2) from one family's calibration cells, with a bootstrap 90% interval over their replicates."""
    sizes = [cell.spec.scenario.size for cell in chosen]
    widths = [cell.spec.model["width"] for cell in chosen]
    samples = [cell.exact_tv()[:, 0] for cell in chosen]
    bound = calibrate(sizes, widths, [calibration_upper(tv) for tv in samples])
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(CALIBRATION_BOOTSTRAP):
        upper = [calibration_upper(tv[rng.integers(0, tv.size, tv.size)]) for tv in samples]
        resampled.append(calibrated_constants(sizes, widths, upper))
    low, high = np.percentile(np.array(resampled), [5, 95], axis=0)
    cells = [dict(entry, truth=cell.spec.truth) for entry, cell in zip(bound.metadata["calibration"], chosen)]
    return {
        "C1": bound.metadata["C1"],
        "C2": bound.metadata["C2"],
        "C1_interval": [float(low[0]), float(high[0])],
        "C2_interval": [float(low[1]), float(high[1])],
        "cells": cells,
        "method": bound.metadata["method"],
        "tests": [],
    }


class TheoremD(Claim):
    id = "theorem_d"
    line_style = "-."
    label = "Theorem D"
    statement = "Diffusion: Li et al.'s rate through the loop"
    whose = "paper + Li et al. (arXiv:2311.01797), calibrated"
    bound = "diffusion_theorem_d"
    needs_suite = True

    def applies(self, spec: CellSpec) -> bool:
        return diffusion_loop(spec)

    def measures(self, spec: CellSpec) -> tuple[str, ...]:
        return ("one_step",)

    def prepare(self, cells: list[CellResult]) -> dict:
        """Theorem D's (C1, C2) per diffusion family, from its calibration cells: upper confidence (mean + 3 se) of
        generation-0 TV."""
        families: dict[str, list[CellResult]] = {}
        for cell in cells:
            if cell.spec.kind == "calibration":
                families.setdefault(diffusion_family(cell.spec.model), []).append(cell)
        return {family: _calibrate_cells(chosen) for family, chosen in families.items()}

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        family = (cell.suite or {}).get(diffusion_family(cell.spec.model))
        if family is None:  # no calibration cells for this family: nothing to evaluate
            return {}
        scenario, bound = cell.scenario, get_bound(self.bound).subs(C1=family["C1"], C2=family["C2"])
        given = dict(
            size=scenario.size,
            initial_size=scenario.initial,
            width=cell.spec.model["width"],
            real_fraction=scenario.real_fraction,
            generation=np.arange(cell.generations + 1),
        )
        # a calibrated constant of exactly 0 removes its term, and with it that term's symbol (C2 = 0 drops the width)
        values = {"upper": np.atleast_1d(bound.evaluate(**{k: v for k, v in given.items() if k in bound.symbol_names}))}
        one_step = cell.measured.get("one_step")
        if one_step is not None:
            measured, values["eps_stderr"] = replicate_mean(one_step)
            sizes = cell.training_size.astype(float)
            values["eps_measured"] = measured
            values["eps_calibrated"] = learner_error_bound_for(
                family["C1"], family["C2"], sizes, cell.spec.model["width"]
            )
            values["lemma_r_measured"] = propagate_scenario(measured, scenario)
        return values

    def summarize(self, cells: list[CellRecord], prepared: Any) -> dict:
        """The calibration per family, each with the test cells it was checked on."""
        for cell in cells:
            if self.id in cell.claims:
                spec = cell.result.spec
                prepared[diffusion_family(spec.model)]["tests"].append(
                    {
                        "truth": spec.truth,
                        "size": spec.scenario.size,
                        "width": spec.model["width"],
                        "real_fraction": spec.scenario.real_fraction,
                    }
                )
        return prepared

    def rows(self, document: ResultsDocument) -> list[tuple]:
        found = sides_of(document.cells, self.id)
        return [(self.statement, self.whose, "Theorem D (calibrated)", *outcome_row(found))] if found else []

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Per diffusion family: the constants with their bootstrap interval, the calibration set next to the test
        set, and per test cell the two claims of Lemma R apart."""
        calibration = document.claims.get(self.id) or {}
        if not calibration:
            return []
        lines = [
            "## Theorem D: calibration, test set and per-step errors",
            "",
            "C1 and C2 are fitted on generation 0 of a calibration grid over N and width m, on a truth that no test cell uses; "
            "the multi-generation prediction is then tested on the disjoint test set. Per test cell, eps_i = TV(p̂_i, q_i) is the "
            "learner's measured error on its own training distribution (the rate claim), and Lemma R applied to the measured "
            "eps_i is what the propagation law alone predicts for TV_i (the propagation claim).",
            "",
        ]
        for family, fitted in calibration.items():
            c1_low, c1_high = fitted["C1_interval"]
            c2_low, c2_high = fitted["C2_interval"]
            tests = sorted({(t["truth"], t["size"], t["width"], round(t["real_fraction"], 3)) for t in fitted["tests"]})
            lines += [
                f"### {family}",
                "",
                f"C1 = {fitted['C1']:.4g} (bootstrap 90%: {c1_low:.4g}–{c1_high:.4g}), "
                f"C2 = {fitted['C2']:.4g} ({c2_low:.4g}–{c2_high:.4g}); {fitted['method']}.",
                "",
                "| set | truth | N | width m | λ | TV upper (mean + 3 se) |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| calibration | {c['truth']} | {c['size']} | {c['width']} | 0 (gen. 0) | {c['tv_upper']:.4f} |"
                for c in fitted["cells"]
            ]
            lines += [
                f"| test | {truth} | {size} | {width} | {fraction:g} | |" for truth, size, width, fraction in tests
            ]
            lines.append("")
            members = [
                cell
                for cell in document.cells
                if "eps_measured" in (cell.claims[self.id].values if self.id in cell.claims else {})
                and diffusion_family(cell.spec.model) == family
            ]
            if members:
                lines += [
                    "| cell | generation | ε_i measured (± se) | ε(N_i) calibrated | TV_i mean | Lemma R on measured ε | Theorem D |",
                    "|---|---|---|---|---|---|---|",
                ]
                for cell in members:
                    values = cell.claims[self.id].values
                    for generation in range(len(values["eps_measured"])):
                        lines.append(
                            f"| {cell.label if generation == 0 else ''} | {generation} | "
                            f"{values['eps_measured'][generation]:.4f} ± {values['eps_stderr'][generation]:.4f} | "
                            f"{values['eps_calibrated'][generation]:.4f} | {cell.summary['mean'][generation]:.4f} | "
                            f"{values['lemma_r_measured'][generation]:.4f} | {values['upper'][generation]:.4f} |"
                        )
                lines.append("")
        return lines


register_claim(TheoremD())
