r"""How much weight the real data should get (He, Xu and Cheng 2025, arXiv:2502.18049): the weighted Gaussian loop's
exact laws, and the weight that minimises its mean's error.

Per cell (a Gaussian MLE loop on a weighted scenario, :meth:`selfloop.simulators.Scenario.weighted`), per generation:
the replicates' mean squared error of the fitted mean, :math:`E\|\hat\mu_i - \mu\|^2`, against its exact law, and, when
the covariance is fitted, the mean trace of the fitted covariance against its law
(:func:`selfloop.bounds.weighted_mle_moments`). The section puts the cells of one setting side by side across their
weights: the last generation's error against the law's curve over w, with the known-covariance optimum
:math:`w^\ast = (\sqrt{1 + 4k} - 1)/(2k)` marked (:func:`selfloop.bounds.optimal_real_weight`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import optimal_real_weight, weighted_mean_variance_limit, weighted_mle_moments
from selfloop.simulators import GaussianMixture, Scenario, standard_truth

from ..cells import CellSpec
from ..figures import new_figure, save_figure
from ..records import CellRecord, ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import law_check, replicate_mean
from .base import Cell, Claim, register_claim

__all__ = ["OptimalWeight"]


def weighted_gaussian_loop(spec: CellSpec) -> bool:
    """A Gaussian MLE loop on a single-Gaussian truth whose scenario weighs its real part."""
    if spec.kind != "loop" or spec.model.name != "mle" or spec.scenario.kind != "weighted":
        return False
    return getattr(standard_truth(spec.truth), "components", None) == 1


class OptimalWeight(Claim):
    id = "optimal_weight"
    figures = ("optimal_weight.png",)
    label = "Weighted real data"
    statement = "Weighting real data by w: the mean's error follows its exact law; w* = (√(1+4k) − 1)/(2k) minimises it"
    whose = "He, Xu and Cheng 2025 (arXiv:2502.18049), exact law"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        return weighted_gaussian_loop(spec)

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        truth, measured, scenario = cell.truth, cell.measured, cell.scenario
        known = cell.spec.model.get("covariance")
        law = weighted_mle_moments(truth, scenario, cell.generations, known_covariance=known)
        error = np.reshape(measured["parameter.mean"], (*measured["parameter.mean"].shape[:2], -1)) - truth.means[0]
        values: dict[str, np.ndarray] = {}
        values["mean_error_measured"], values["mean_error_stderr"] = replicate_mean(np.sum(error**2, axis=2))
        values["mean_error_law"] = np.trace(law.mean_error, axis1=1, axis2=2)
        if known is None:
            fitted = (
                measured["parameter.variance"]
                if truth.dim == 1
                else np.trace(measured["parameter.covariance"], axis1=2, axis2=3)
            )
            values["covariance_measured"], values["covariance_stderr"] = replicate_mean(fitted)
            values["covariance_law"] = np.trace(law.covariance, axis1=1, axis2=2)
        values["weight"] = np.asarray(scenario.real_weight)
        values["optimal_weight"] = np.asarray(optimal_real_weight(scenario.real, scenario.synthetic))
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        verdicts = {
            "mean_error": law_check(
                values["mean_error_measured"], values["mean_error_stderr"], values["mean_error_law"]
            )
        }
        if "covariance_law" in values:
            verdicts["covariance"] = law_check(
                values["covariance_measured"], values["covariance_stderr"], values["covariance_law"]
            )
        return verdicts

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        found = "; ".join(self._optimum_text(group) for group in _settings(chosen).values())
        return [(self.statement, self.whose, "every generation", str(len(chosen)), law_outcome(chosen, self.id), found)]

    def _optimum_text(self, group: list[CellRecord]) -> str:
        spec = group[0].spec.to_dict()
        weights = [float(cell.claims[self.id].values["weight"]) for cell in group]
        errors = [cell.claims[self.id].values["mean_error_measured"][-1] for cell in group]
        best = weights[int(np.argmin(errors))]
        optimum = float(group[0].claims[self.id].values["optimal_weight"])
        kind = "known Σ" if spec["model"].get("covariance") is not None else "fitted Σ"
        return (
            f"r={spec['scenario']['real']}, s={spec['scenario']['synthetic']} ({kind}): smallest simulated error at "
            f"w = {best:g} of {len(weights)} weights; w* = {optimum:.3f}"
        )

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        lines = [
            "## Weighting real against synthetic data",
            "",
            "Each generation fits on r fresh real points weighted w and s synthetic points weighted 1 − w "
            "(docs/theory.md, section 15). The mean's squared error at the last generation across the weights, "
            "against its exact law; with the covariance known the limit is minimised at w* = (√(1 + 4k) − 1)/(2k), "
            "k = s/r (the golden ratio's inverse at k = 1).",
            "",
            "| setting | weight w | E‖μ̂ − μ‖² ± se (law) | max abs z (limit) |",
            "|---|---|---|---|",
        ]
        for group in _settings(chosen).values():
            for cell in group:
                values, verdicts = cell.claims[self.id].values, cell.claims[self.id].verdicts
                worst = max(verdicts.values(), key=lambda verdict: verdict["max_abs_z"])
                lines.append(
                    f"| {cell.spec.truth} {self._optimum_text([cell]).split(':')[0]} | {float(values['weight']):g} "
                    f"| {values['mean_error_measured'][-1]:.5f} ± {values['mean_error_stderr'][-1]:.5f} "
                    f"({values['mean_error_law'][-1]:.5f}) | {worst['max_abs_z']:.2f} ({worst['z_limit']:g}) |"
                )
        lines += ["", "; ".join(self._optimum_text(group) for group in _settings(chosen).values()) + ".", ""]
        return lines + [f"![the mean's error across the real weight]({self.figure(chosen, out)})", ""]

    def figure(self, chosen: list[CellRecord], out: Path) -> str:
        """The last generation's error by weight (replicate means ± 2 se), the law's curve at that generation and,
        with the covariance known, its limit, with w* marked."""
        figure, axis = new_figure(6.0, 4.0)
        grid = np.linspace(0.02, 1.0, 99)
        for index, group in enumerate(_settings(chosen).values()):
            color, spec = f"C{index % 10}", group[0].spec.to_dict()
            truth = standard_truth(spec["truth"])
            if not isinstance(truth, GaussianMixture):  # applies() admits single Gaussians only
                continue
            generations = len(group[0].claims[self.id].values["mean_error_law"]) - 1
            real, synthetic = spec["scenario"]["real"], spec["scenario"]["synthetic"]
            known = spec["model"].get("covariance")
            curve = [
                np.trace(
                    weighted_mle_moments(
                        truth,
                        Scenario.weighted(real, synthetic, w, initial=spec["scenario"].get("initial")),
                        generations,
                        known_covariance=known,
                    ).mean_error[-1]
                )
                for w in grid
            ]
            label = f"law at generation {generations}, r={real}, s={synthetic}" + (", known Σ" if known else "")
            axis.plot(grid, curve, color=color, linewidth=1.2, label=label)
            if (
                isinstance(truth, GaussianMixture)
                and known is not None
                and np.allclose(np.asarray(known) * np.eye(truth.dim), truth.covariances[0])
            ):
                variance = float(
                    np.trace(truth.covariances[0])
                )  # the paper's setting: the known covariance the truth's
                limit = [weighted_mean_variance_limit(real, synthetic, w, variance) for w in grid]
                axis.plot(grid, limit, color=color, linestyle=":", linewidth=1.0)
                axis.axvline(optimal_real_weight(real, synthetic), color=color, linestyle="--", linewidth=0.8)
            weights = [float(cell.claims[self.id].values["weight"]) for cell in group]
            values = [cell.claims[self.id].values for cell in group]
            axis.errorbar(
                weights,
                [v["mean_error_measured"][-1] for v in values],
                yerr=[2 * v["mean_error_stderr"][-1] for v in values],
                color=color,
                fmt="o",
                markersize=3,
            )
        axis.set_yscale("log")
        axis.set_xlabel("weight w of the real data")
        axis.set_ylabel("E ‖μ̂ − μ‖² at the last generation")
        axis.set_title("law (line), its limit (dotted), w* (dashed), simulation ± 2 se (dots)", fontsize=9)
        axis.legend(fontsize=6, frameon=False)
        name = "optimal_weight.png"
        save_figure(figure, out / name)
        return name


def _settings(cells: list[CellRecord]) -> dict[tuple, list[CellRecord]]:
    """Cells grouped by everything but the weight (truth, sizes, model), each group sorted by weight."""
    groups: dict[tuple, list[CellRecord]] = {}
    for cell in cells:
        scenario = cell.spec.to_dict()["scenario"]
        key = (
            cell.spec.truth,
            scenario["real"],
            scenario["synthetic"],
            scenario.get("initial"),
            repr(cell.spec.model),
        )
        groups.setdefault(key, []).append(cell)
    return {
        key: sorted(group, key=lambda cell: cell.spec.to_dict()["scenario"]["real_weight"])
        for key, group in groups.items()
    }


register_claim(OptimalWeight())
