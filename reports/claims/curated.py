r"""Curated loops (Ferbach et al. 2024, arXiv:2407.09499): a categorical model retrained on synthetic data that a
reward curates by K-wise Bradley–Terry choice (:class:`selfloop.simulators.Curated`).

Per cell (an unsmoothed categorical MLE loop, curated, on fresh data), three exact checks:

- ``one_step``: given the previous fit, the next fit's expectation is exactly
  :math:`(r p_0 + s H_{\hat p_{i-1}}) / N`, its conditional variance
  :math:`(r p_0(1 - p_0) + s H(1 - H)) / N^2` (:func:`selfloop.bounds.curated_probabilities`): the residuals summed over
  the replicates against that variance, per symbol and generation, a symbol's generations pooled where it is nearly
  lost (:data:`POOLED_VARIANCE`), every |z| below the limit;
- ``mean``: every generation's total count of every symbol over the replicates against its exact law, the R-fold
  convolution of the count's law under the chain of training counts (:func:`selfloop.bounds.curated_count_law`):
  exact two-sided tests, Bonferroni over generations and symbols (no normal approximation, which fails where the
  loop fixes);
- ``reward_rises`` (fully synthetic): the expected reward never decreases. Exactly, state by state,
  :math:`r\cdot H_p \ge r\cdot p` at every fit the loop visited; statistically, no generation's mean increment is
  significantly negative (one-sided; generations where at least :data:`MOVED` replicates moved), with the smallest
  decrease the test could have seen.

The section shows each cell's reward by generation: simulation, the exact law and the population recursion
:math:`p_{t+1} = \lambda p_0 + (1 - \lambda) H_{p_t}` (:func:`selfloop.bounds.curated_law`, the infinite-sample limit),
and with real data the recursion's fixed point beside the reward-maximal point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import curated_count_law, curated_law, curated_probabilities
from selfloop.simulators import Categorical, standard_truth

from ..cells import CellSpec
from ..figures import new_figure, save_figure
from ..records import CellRecord, ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import LAW_Z, binomial_law_verdict, law_verdict, replicate_sum_p_values
from .base import Cell, Claim, register_claim

__all__ = ["CuratedClaim"]

#: The scenario kinds of fresh data, where the exact laws are stated.
FRESH = ("fully_synthetic", "mixed_fresh", "growing_synthetic")


def curated_categorical_loop(spec: CellSpec) -> bool:
    """A curated, unsmoothed categorical MLE loop on a categorical truth with fresh data."""
    if spec.kind != "loop" or spec.model.name != "curated" or spec.scenario.kind not in FRESH:
        return False
    inner = spec.model["model"]
    return (
        inner["name"] == "categorical_mle"
        and not inner.get("smoothing")
        and isinstance(standard_truth(spec.truth), Categorical)
    )


#: The one-step test pools a symbol's consecutive generations until their summed conditional variance, in counts, is
#: at least this: a sum of Bernoulli draws with less (a symbol nearly lost) is too skewed for a normal z.
POOLED_VARIANCE = 100.0
#: A generation's reward increments are tested only where at least this many replicates moved.
MOVED = 30


def pooled_z(residual: np.ndarray, variance: np.ndarray, size: int) -> np.ndarray:
    """z-scores of residual sums (G, S) against their variances, each symbol's generations pooled in consecutive runs
    of at least :data:`POOLED_VARIANCE` counts² (a short last run joins the one before); a run with no variance must
    have no residual (z 0, else infinite)."""
    scores = []
    for residuals, variances in zip(residual.T, variance.T):
        groups, start, held = [], 0, 0.0
        for end, value in enumerate(variances * size**2, start=1):
            held += value
            if held >= POOLED_VARIANCE:
                groups.append((start, end))
                start, held = end, 0.0
        if start < len(variances):
            groups = groups[:-1] + [(groups[-1][0] if groups else 0, len(variances))]
        for low, high in groups:
            gap, spread = residuals[low:high].sum(), np.sqrt(variances[low:high].sum())
            scores.append(abs(gap) / spread if spread > 0 else (np.inf if abs(gap) > 1e-12 else 0.0))
    return np.asarray(scores)


class CuratedClaim(Claim):
    id = "curated"
    figures = ("curated.png",)
    label = "Curated loops"
    statement = "Curated retraining: each fit's law given the last is exact; the expected reward never decreases"
    whose = "Ferbach et al. 2024 (arXiv:2407.09499), exact law"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        return curated_categorical_loop(spec)

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        spec, scenario, truth = cell.spec, cell.scenario, cell.truth
        reward, choices = np.asarray(spec.model["reward"], dtype=float), int(spec.model.get("choices", 2))
        fits = cell.measured["parameter.probabilities"]  # (R, G + 1, S)
        replicates = fits.shape[0]
        law = curated_count_law(truth.probabilities, reward, choices, scenario, cell.generations)
        recursion = curated_law(truth.probabilities, reward, choices, scenario.real_fraction, cell.generations)
        real, synthetic = scenario.real, scenario.synthetic
        size = real + synthetic
        curated = curated_probabilities(fits[:, :-1], reward, choices)
        p0 = truth.probabilities
        expected = (real * p0 + synthetic * curated) / size
        variance = (real * p0 * (1 - p0) + synthetic * curated * (1 - curated)) / size**2
        rewards = fits @ reward
        counts = np.rint(fits * scenario.training_sizes(cell.generations)[None, :, None]).sum(axis=0)
        values = {
            "one_step_z": pooled_z((fits[:, 1:] - expected).sum(axis=0), variance.sum(axis=0), size),
            "mean_measured": fits.mean(axis=0),
            "mean_law": law.mean,
            "mean_p_values": replicate_sum_p_values(law.counts, replicates, counts),
            "reward_measured": rewards.mean(axis=0),
            "reward_law": law.reward_mean,
            "reward_law_variance": law.reward_variance / replicates,
            "reward_recursion": recursion.reward,
            "fixed_point": recursion.fixed_point,
            "reward_maximal": recursion.reward_maximal,
            "fixation_measured": np.mean(fits @ (recursion.reward_maximal > 0) > 1 - 1e-12, axis=0),
            "fixation_law": law.fixation,
        }
        if scenario.kind == "fully_synthetic":
            gains = curated @ reward - rewards[:, :-1]  # r·H(p) − r·p at every visited fit
            increments = np.diff(rewards, axis=1)
            moved = np.sum(np.abs(increments) > 1e-12, axis=0) >= MOVED
            values["smallest_gain"] = np.asarray(gains.min())
            values["increment_mean"] = increments.mean(axis=0)
            values["increment_stderr"] = increments.std(axis=0, ddof=1) / np.sqrt(replicates)
            values["increment_tested"] = moved
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        p_values = np.asarray(values["mean_p_values"])
        verdicts = {
            "one_step": law_verdict(float(np.max(values["one_step_z"]))),
            "mean": binomial_law_verdict(float(p_values.min()), p_values.size),
        }
        if "smallest_gain" in values:
            tested = np.asarray(values["increment_tested"], dtype=bool)
            stderr = np.asarray(values["increment_stderr"])[tested]
            z = np.asarray(values["increment_mean"])[tested] / np.maximum(stderr, 1e-300)
            worst = float(max(-z.min(), 0.0)) if z.size else 0.0
            exact = bool(values["smallest_gain"] >= -1e-12)  # r·H(p) − r·p, rounding of a sum of S terms
            holds = exact and worst < LAW_Z
            outcome = "refuted" if not holds else ("held" if z.size else "underpowered")
            verdicts["reward_rises"] = {
                "kind": "law",
                "holds": holds,
                "max_abs_z": worst,
                "z_limit": LAW_Z,
                "outcome": outcome,
                "smallest_gain": float(values["smallest_gain"]),
                "detectable_decrease": float(LAW_Z * stderr.max()) if z.size else float("inf"),
                "generations_tested": int(tested.sum()),
            }
        return verdicts

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        detail = "; ".join(_summary(cell, self.id) for cell in chosen)
        return [
            (self.statement, self.whose, "every generation", str(len(chosen)), law_outcome(chosen, self.id), detail)
        ]

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        lines = [
            "## Curated loops",
            "",
            "Each synthetic point is one of K candidates from the previous fit, kept with Bradley–Terry probability "
            "e^{r(x_j)} / Σ_i e^{r(x_i)} (docs/theory.md, section 17). The reward of the last generation: simulation "
            "± se, the exact law of the training counts, and the population recursion p_{t+1} = λ p0 + (1 − λ) H(p_t) "
            "(its limit as N grows). The last generation's mean fit beside the recursion's fixed point and the reward-maximal "
            "point: with real data the loop settles between p0 and the best symbols, without it on the best symbols.",
            "",
            "| cell | λ | K | reward ± se (exact; recursion) | mean fit; exact | fixed point of the recursion "
            "| reward-maximal point | runs fixed on the best (exact) | max abs z (limit) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            record = cell.claims[self.id]
            values, spec = record.values, cell.spec
            worst = max(record.verdicts.values(), key=lambda verdict: verdict["max_abs_z"])
            lines.append(
                f"| {cell.spec.truth}, N={spec.scenario.size} | {spec.scenario.real_fraction:g} | {spec.model.get('choices', 2)} "
                f"| {values['reward_measured'][-1]:.4f} ± {np.sqrt(values['reward_law_variance'][-1]):.4f} "
                f"({values['reward_law'][-1]:.4f}; {values['reward_recursion'][-1]:.4f}) "
                f"| {_vector(values['mean_measured'][-1])}; exact {_vector(values['mean_law'][-1])} "
                f"| {_vector(values['fixed_point'])} | {_vector(values['reward_maximal'])} "
                f"| {values['fixation_measured'][-1]:.3f} ({values['fixation_law'][-1]:.3f}) "
                f"| {worst['max_abs_z']:.2f} ({worst['z_limit']:g}) |"
            )
        return lines + ["", f"![the curated loops' reward by generation]({self.figure(chosen, out)})", ""]

    def figure(self, chosen: list[CellRecord], out: Path) -> str:
        """The expected reward by generation: simulation ± 2 se (dots), the exact law (line), the recursion (dashed)."""
        figure, axis = new_figure(6.0, 4.0)
        for index, cell in enumerate(chosen):
            values, spec, color = cell.claims[self.id].values, cell.spec, f"C{index % 10}"
            generations = np.arange(len(values["reward_law"]))
            label = f"λ={spec.scenario.real_fraction:g}, K={spec.model.get('choices', 2)}, N={spec.scenario.size}"
            axis.plot(generations, values["reward_law"], color=color, linewidth=1.2, label=label)
            axis.plot(generations, values["reward_recursion"], color=color, linestyle="--", linewidth=1.0)
            axis.errorbar(
                generations,
                values["reward_measured"],
                yerr=2 * np.sqrt(values["reward_law_variance"]),
                color=color,
                fmt="o",
                markersize=2.5,
            )
        axis.set_xlabel("generation")
        axis.set_ylabel("expected reward E[r · p̂]")
        axis.set_title("exact law (line), recursion (dashed), simulation ± 2 se (dots)", fontsize=9)
        axis.legend(fontsize=7, frameon=False)
        name = "curated.png"
        save_figure(figure, out / name)
        return name


def _vector(values) -> str:
    return "(" + ", ".join(f"{value:.3f}" for value in np.asarray(values)) + ")"


def _summary(cell: CellRecord, claim: str) -> str:
    values, spec = cell.claims[claim].values, cell.spec
    return (
        f"λ={spec.scenario.real_fraction:g}, K={spec.model.get('choices', 2)}: reward {values['reward_measured'][0]:.3f} → "
        f"{values['reward_measured'][-1]:.3f} (exact {values['reward_law'][-1]:.3f}, recursion "
        f"{values['reward_recursion'][-1]:.3f})"
    )


register_claim(CuratedClaim())
