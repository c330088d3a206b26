r"""The Gaussian MLE loop's exact laws (Shumailov et al. 2024, arXiv:2305.17493; Bertrand et al. 2024,
arXiv:2310.00429; Gerstgrasser et al. 2024, arXiv:2404.01413): the first two moments of the fitted parameters.

Two quantities per generation, each as replicate mean, standard error and law (:func:`selfloop.bounds.mle_moments`):
the whitened fitted variance (:math:`\sigma_i^2/\sigma^2` in 1-D, :math:`\operatorname{tr}(\Sigma^{-1}\Sigma_i)/d`
in d dimensions) and the squared Mahalanobis error of the fitted mean, :math:`\Delta_i^2`, and, where its law is exact,
:math:`\log\det\Sigma_i - \log\det\Sigma` (:func:`selfloop.bounds.mle_log_det`, the peers' determinant). A law holds
in a cell when every z-score is below :data:`selfloop.reports.verdicts.LAW_Z`. In 1-D the variance's standard error is
the larger of the replicates' and the law's own (the exact second moment): in deep collapse the fitted variance is
heavy-tailed, and a few hundred replicates understate its spread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import mle_log_det, mle_moments

from ..cells import CellSpec
from ..figures import describe_scenario_kind, new_figure, save_figure
from ..records import CellRecord, ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import law_check, replicate_mean
from .base import Cell, Claim, register_claim
from .gaussian_mle import gaussian_mle_loop

__all__ = ["MLELaws"]

#: The law of each scenario kind, as the claims table words it: (claim, whose).
LAWS = {
    "fully_synthetic": (
        "Gaussian refit collapses at rate (N−1)/N per generation",
        "Shumailov et al. 2024 (arXiv:2305.17493), exact law",
    ),
    "mixed_fresh": (
        "Fresh real data: the fitted variance settles at a fixed point",
        "Bertrand et al. 2024 (arXiv:2310.00429), exact law",
    ),
    "accumulate": (
        "Accumulating data: the variance converges, no collapse",
        "Gerstgrasser et al. 2024 (arXiv:2404.01413), exact law",
    ),
    "accumulate_subsample": (
        "Accumulate-subsample: a fit on N points of the growing pool; the first moments exact",
        "Kazdan et al. 2024 (arXiv:2410.16713), exact law (first moments)",
    ),
}
QUANTITIES = ("variance", "mean_offset", "log_det")


class MLELaws(Claim):
    id = "mle_laws"
    figures = ("mle_laws.png",)
    label = "Gaussian MLE laws"
    whose = "exact laws"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        """Every Gaussian MLE loop on a Gaussian truth (either estimator, any dimension, accumulating or subsampling
        too) but a reused real pool."""
        return gaussian_mle_loop(spec)

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        """Replicate mean, standard error and law of both quantities, per generation."""
        truth, measured = cell.truth, cell.measured
        ddof = cell.spec.model.get("ddof", 0)
        law = mle_moments(truth, cell.scenario, cell.generations, ddof=ddof)
        covariance, mean = truth.covariances[0], truth.means[0]
        precision, dim = np.linalg.inv(covariance), truth.dim
        if dim == 1:
            variance = measured["parameter.variance"] / covariance[0, 0]
            offset = (measured["parameter.mean"] - mean[0]) ** 2 / covariance[0, 0]
        else:
            variance = np.einsum("ij,rgji->rg", precision, measured["parameter.covariance"]) / dim
            error = measured["parameter.mean"] - mean
            offset = np.einsum("rgi,ij,rgj->rg", error, precision, error)
        laws = {
            "variance": np.einsum("ij,gji->g", precision, law.covariance) / dim,
            "mean_offset": law.mean_deviation**2,
        }
        samples = {"variance": variance, "mean_offset": offset}
        log_det = mle_log_det(truth, cell.scenario, cell.generations, ddof=ddof)
        if log_det.exact:  # the peers' determinant metric, where its law is exact (elsewhere Jensen bounds it)
            fitted = measured["parameter.variance"][..., None, None] if dim == 1 else measured["parameter.covariance"]
            samples["log_det"] = np.linalg.slogdet(fitted)[1] - np.linalg.slogdet(covariance)[1]
            laws["log_det"] = log_det.value
        values = {}
        for name, quantity in samples.items():
            values[f"{name}_measured"], values[f"{name}_stderr"] = replicate_mean(quantity)
            values[f"{name}_law"] = laws[name]
        if law.variance_square is not None:  # 1-D: the law's own spread, where the replicates' understates a heavy tail
            spread = np.maximum(law.variance_square / covariance[0, 0] ** 2 - laws["variance"] ** 2, 0.0)
            law_stderr = np.sqrt(spread / variance.shape[0])
            values["variance_stderr"] = np.maximum(values["variance_stderr"], law_stderr)
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        """Each quantity's law: every generation's z-score below the limit."""
        return {
            name: law_check(values[f"{name}_measured"], values[f"{name}_stderr"], values[f"{name}_law"])
            for name in QUANTITIES
            if f"{name}_law" in values
        }

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        rows = []
        for kind, (claim, whose) in LAWS.items():
            found = [cell for cell in chosen if cell.spec.to_dict()["scenario"]["kind"] == kind]
            if not found:
                continue
            last = "; ".join(
                f"{cell.spec.truth}: {values['variance_measured'][-1]:.4f} ± {values['variance_stderr'][-1]:.4f} "
                f"(law {values['variance_law'][-1]:.4f})"
                for cell in found
                for values in [cell.claims[self.id].values]
            )
            rows.append(
                (
                    claim,
                    whose,
                    "E σ_i² and E Δ_i², every generation",
                    str(len(found)),
                    law_outcome(found, self.id),
                    f"whitened variance at the last generation: {last}",
                )
            )
        return rows

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """The laws per cell, with the figure."""
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        limit = chosen[0].claims[self.id].verdicts["variance"]["z_limit"]
        lines = [
            "## The Gaussian MLE loop: exact laws",
            "",
            "A Gaussian truth refit by maximum likelihood: the first two moments of the fitted parameters follow exact laws "
            "(docs/theory.md, section 9). Per cell, the replicate means of the whitened fitted variance and of the squared "
            f"Mahalanobis error of the fitted mean are compared with the laws at every generation (|z| < {limit:g}); "
            "the TV bound built on them is in the scenario tables (*Gaussian MLE*).",
            "",
            "| cell | variance at the last generation: measured ± se (law) | max abs z, variance "
            "| E Δ² at the last generation: measured ± se (law) | max abs z, mean | laws |",
            "|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            values, verdicts = cell.claims[self.id].values, cell.claims[self.id].verdicts
            holds = all(verdict["holds"] for verdict in verdicts.values())
            lines.append(
                f"| {cell.label} | {values['variance_measured'][-1]:.4f} ± {values['variance_stderr'][-1]:.4f} "
                f"({values['variance_law'][-1]:.4f}) | {verdicts['variance']['max_abs_z']:.2f} | "
                f"{values['mean_offset_measured'][-1]:.4f} ± {values['mean_offset_stderr'][-1]:.4f} "
                f"({values['mean_offset_law'][-1]:.4f}) | {verdicts['mean_offset']['max_abs_z']:.2f} | "
                f"{'hold' if holds else '**REJECTED**'} |"
            )
        return lines + ["", f"![Gaussian MLE laws]({self.figure(chosen, out)})", ""]

    def figure(self, chosen: list[CellRecord], out: Path) -> str:
        """Measured mean fitted variance (± 2 se) against each exact law, per cell."""
        figure, axis = new_figure(7.5, 4.2)
        for index, cell in enumerate(chosen):
            values = cell.claims[self.id].values
            law = values["variance_law"]
            generations = np.arange(len(law))
            color = f"C{index % 10}"
            axis.plot(generations, law, color=color, linewidth=1.2)
            axis.errorbar(
                generations,
                np.asarray(values["variance_measured"]),
                yerr=2 * np.asarray(values["variance_stderr"]),
                color=color,
                fmt="o",
                markersize=3,
                linewidth=0.8,
                label=f"{cell.spec.truth} {describe_scenario_kind(cell)}",
            )
        axis.set_xlabel("generation i")
        axis.set_ylabel("whitened fitted variance")
        axis.set_title("Gaussian MLE loop: measured mean (± 2 se, dots) against the exact law (lines)", fontsize=10)
        axis.legend(fontsize=7, frameon=False)
        name = "mle_laws.png"
        save_figure(figure, out / name)
        return name


register_claim(MLELaws())
