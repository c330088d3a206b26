r"""The categorical loop's exact laws (Shumailov et al. 2024, arXiv:2305.17493, tails lost; Suresh et al. 2024,
arXiv:2412.17646; Seddik et al. 2024, arXiv:2404.05090): each symbol's count is a Markov chain of its own, so
:math:`E\,\mathrm{TV}_i`, the probability that each symbol is lost, the expected entropy and
:math:`E\|\hat p_i - p\|^2` are exact (:func:`selfloop.bounds.categorical_law`).

Per cell, per generation: the replicates' mean TV, squared error and entropy against their laws (z-scores), and, for
an unsmoothed fit, every symbol's number of replicates that lost it, and the number whose fit is a point mass (total
collapse), against their exact probabilities (exact binomial tests; a smoothed fit loses nothing). The section draws
the tail loss: symbols alive by generation against the law, and the fitted mass of the truth's tail (its mean is a
martingale and stays; its median falls).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import special

from selfloop.bounds import categorical_squared_error

from ..cells import CellSpec
from ..figures import describe_scenario_kind, new_figure, save_figure
from ..records import CellRecord, ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import binomial_law_verdict, binomial_p_values, law_check, replicate_mean
from .base import Cell, Claim, register_claim
from .discrete_cells import EXACT_CHAIN_POINTS, categorical_loop, exact_chains, exact_law, fitted_probabilities

__all__ = ["CategoricalLaws", "TAIL_SHARE"]

#: The truth's tail: the least likely symbols that together hold this share of its mass.
TAIL_SHARE = 0.1


def tail_symbols(probabilities: np.ndarray) -> np.ndarray:
    """The truth's tail (:data:`TAIL_SHARE`): the least likely symbols whose mass adds up to at most that share."""
    order = np.argsort(probabilities, kind="stable")
    return order[np.cumsum(probabilities[order]) <= TAIL_SHARE + 1e-12]


class CategoricalLaws(Claim):
    id = "categorical_laws"
    figures = ("categorical_tail.png",)
    label = "Categorical loop laws"
    statement = (
        "Categorical MLE loop: E TV_i, symbols lost, total collapse, entropy and E ||p̂_i − p||² follow the exact chains"
    )
    whose = "Shumailov et al. 2024 (arXiv:2305.17493), Seddik et al. 2024 (arXiv:2404.05090), exact laws"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        """Categorical loops with fresh or accumulated data; the chains where affordable (:data:`EXACT_CHAIN_POINTS`
        points at most), else the closed-form squared error alone."""
        return categorical_loop(spec) and not spec.scenario.reuse_real

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        truth, scenario, smoothing = cell.truth, cell.scenario, float(cell.spec.model.get("smoothing", 0.0))
        fits = fitted_probabilities(cell.measured)
        p = truth.probabilities
        values: dict[str, np.ndarray] = {}
        measured = {
            "square": np.sum((fits - p) ** 2, axis=2),
            "tv": cell.tv,
            "entropy": -special.xlogy(fits, fits).sum(axis=2),
            "tail_mass": fits[:, :, tail_symbols(p)].sum(axis=2),
        }
        for name, samples in measured.items():
            values[f"{name}_measured"], values[f"{name}_stderr"] = replicate_mean(samples)
        values["tail_median"] = np.median(measured["tail_mass"], axis=0)
        values["square_law"] = categorical_squared_error(p, scenario, cell.generations, smoothing=smoothing)
        if exact_chains(cell.spec):
            law = exact_law(truth, scenario, cell.generations, smoothing)
            values["tv_law"], values["entropy_law"] = law.expected_tv, law.expected_entropy
            values["tail_law"] = law.expected_fit[:, tail_symbols(p)].sum(axis=1)
            values["alive_law"] = p.size - law.expected_lost
            lost = fits == 0
            values["alive_measured"], values["alive_stderr"] = replicate_mean(p.size - lost.sum(axis=2))
            # per generation, the smallest p-value of the symbols' exact binomial tests (replicates that lost each)
            values["lost_p_value"] = binomial_p_values(lost.sum(axis=0), lost.shape[0], law.loss_probability).min(
                axis=1
            )
            collapsed = fits.max(axis=2) >= 1.0 - 1e-12  # the fit a point mass: total collapse
            values["collapse_law"] = law.collapse_probability
            values["collapse_measured"] = collapsed.mean(axis=0)
            values["collapse_p_value"] = binomial_p_values(
                collapsed.sum(axis=0)[:, None], collapsed.shape[0], law.collapse_probability[:, None]
            )[:, 0]
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        """Each law against the replicates: z-scores of the means; exact binomial tests of the losses (unsmoothed)."""
        verdicts = {
            "squared_error": law_check(values["square_measured"], values["square_stderr"], values["square_law"])
        }
        if "tv_law" in values:
            verdicts["expected_tv"] = law_check(values["tv_measured"], values["tv_stderr"], values["tv_law"])
            verdicts["entropy"] = law_check(values["entropy_measured"], values["entropy_stderr"], values["entropy_law"])
            if float(cell.spec.model.get("smoothing", 0.0)) == 0.0:
                events = values["lost_p_value"].size * cell.truth.symbols  # every symbol at every generation
                verdicts["symbols_lost"] = binomial_law_verdict(float(np.min(values["lost_p_value"])), events)
                if "collapse_p_value" in values:
                    collapse = values["collapse_p_value"]
                    verdicts["total_collapse"] = binomial_law_verdict(float(np.min(collapse)), collapse.size)
        return verdicts

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        chains = [cell for cell in chosen if "tv_law" in cell.claims[self.id].values]
        last = "; ".join(
            f"{cell.spec.truth} {describe_scenario_kind(cell)}: {values['tv_measured'][-1]:.4f} "
            f"± {values['tv_stderr'][-1]:.4f} (law {values['tv_law'][-1]:.4f})"
            for cell in chains[:3]
            for values in [cell.claims[self.id].values]
        )
        return [
            (
                self.statement,
                self.whose,
                f"exact chains in {len(chains)} cells (≤ {EXACT_CHAIN_POINTS} points), moments in all",
                str(len(chosen)),
                law_outcome(chosen, self.id),
                f"mean TV at the last generation: {last}" if last else "—",
            )
        ]

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """The laws per cell at the last generation, with the tail-loss figure."""
        chosen = [cell for cell in cells_with(document, self.id) if "tv_law" in cell.claims[self.id].values]
        if not chosen:
            return []
        lines = [
            "## The categorical loop: exact laws and the tail it loses",
            "",
            "Each symbol's count is a Markov chain of its own (docs/theory.md, section 11), so the expected TV, the "
            "probability that each symbol is lost, the expected entropy and E ||p̂_i − p||² are exact. Per cell, the "
            "replicate means against the laws at the last generation; the losses are tested symbol by symbol (exact "
            "binomial tests).",
            "",
            "| cell | mean TV ± se (law) | symbols alive ± se (law) | entropy ± se (law) | max abs z (limit) | laws |",
            "|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            values, verdicts = cell.claims[self.id].values, cell.claims[self.id].verdicts
            worst = max(verdicts.values(), key=lambda verdict: verdict["max_abs_z"] / verdict["z_limit"])
            holds = all(verdict["holds"] for verdict in verdicts.values())
            lines.append(
                f"| {cell.label} | {values['tv_measured'][-1]:.4f} ± {values['tv_stderr'][-1]:.4f} ({values['tv_law'][-1]:.4f}) "
                f"| {values['alive_measured'][-1]:.1f} ± {values['alive_stderr'][-1]:.1f} ({values['alive_law'][-1]:.1f}) "
                f"| {values['entropy_measured'][-1]:.3f} ± {values['entropy_stderr'][-1]:.3f} ({values['entropy_law'][-1]:.3f}) "
                f"| {worst['max_abs_z']:.2f} ({worst['z_limit']:.2f}) | {'hold' if holds else '**REJECTED**'} |"
            )
        return lines + ["", f"![the tail the categorical loop loses]({self.figure(chosen, out)})", ""]

    def figure(self, chosen: list[CellRecord], out: Path) -> str:
        """Symbols alive (exact law and replicate means) and the truth's tail mass (law of its mean; mean and median)."""
        figure, (alive, tail) = new_figure(10.0, 4.0, columns=2)
        for index, cell in enumerate(chosen):
            values, color = cell.claims[self.id].values, f"C{index % 10}"
            generations = np.arange(len(values["alive_law"]))
            label = f"{cell.spec.truth} {describe_scenario_kind(cell)} N={cell.result.training_size[-1]:g}"
            alive.plot(generations, values["alive_law"], color=color, linewidth=1.2)
            alive.errorbar(
                generations,
                values["alive_measured"],
                yerr=2 * np.asarray(values["alive_stderr"]),
                color=color,
                fmt="o",
                markersize=3,
                linewidth=0.8,
                label=label,
            )
            tail.plot(generations, values["tail_law"], color=color, linewidth=1.2)
            tail.plot(generations, values["tail_median"], color=color, linestyle="--", marker="v", markersize=3)
        alive.set_xlabel("generation i")
        alive.set_ylabel("symbols alive (p̂_k > 0)")
        alive.set_yscale("log")
        alive.set_title("symbols alive: exact law (lines), replicate mean ± 2 se (dots)", fontsize=9)
        alive.legend(fontsize=6, frameon=False)
        tail.set_xlabel("generation i")
        tail.set_ylabel(f"fitted mass of the truth's {TAIL_SHARE:.0%} tail")
        tail.set_title("tail mass: E (exact law, lines) and median over replicates (dashed)", fontsize=9)
        name = "categorical_tail.png"
        save_figure(figure, out / name)
        return name


register_claim(CategoricalLaws())
