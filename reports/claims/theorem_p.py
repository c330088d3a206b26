r"""Theorem P (Fu et al., re-derived): the phase transition. With n real points and m synthetic points per generation,
the TV bound first rises, then falls in m; the symbolic threshold :math:`m^*_i` is where Lemma R's propagation of a
rate :math:`\varepsilon(N) = C N^{-\alpha}` peaks (:func:`selfloop.bounds.phase_threshold`).

A suite-wide claim over the growing-synthetic ``phase`` cells: the mean TV at the last generation along m, a valid
test of rise-then-fall with a 90% interval for the empirical peak (:func:`selfloop.testing.phase.rise_then_fall`),
the symbolic threshold, and along m the curves of the bounds whose claims ask for it (:attr:`Claim.phase_curve`:
Theorem K's and the second-moment bound's), read from the cells' records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import kde_rate, phase_threshold
from selfloop.bounds.phase import phase_curve
from selfloop.simulators import standard_truth
from selfloop.testing.phase import rise_then_fall

from ..cells import CellSpec
from ..figures import new_figure, save_figure
from ..records import CellRecord, ResultsDocument
from .base import CLAIMS, Cell, Claim, claim_label, register_claim

__all__ = ["TheoremP"]


def _peak(synthetic: list[int], values: list[float]) -> int | None:
    """The m at which a curve over the synthetic amounts peaks (None if it is monotone)."""
    index = int(np.argmax(values))
    return synthetic[index] if 0 < index < len(values) - 1 else None


def phase_bounds(phase: dict) -> list[tuple[str, dict]]:
    """The phase record's bound curves as (claim id, curve), in the order of their labels."""
    return sorted(phase.get("bounds", {}).items(), key=lambda item: claim_label(item[0]))


class TheoremP(Claim):
    id = "theorem_p"
    figures = ("phase.png",)
    label = "Theorem P"
    statement = "Phase transition: TV first rises, then falls in m"
    whose = "paper, re-derived"
    status = "symbolic"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        return spec.kind == "phase"

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        return {}  # suite-wide: the cells are compared along m (summarize)

    def summarize(self, cells: list[CellRecord], prepared: object | None) -> dict | None:
        chosen = sorted(
            (cell for cell in cells if cell.result.spec.kind == "phase"),
            key=lambda cell: cell.result.spec.scenario.synthetic,
        )
        if not chosen:
            return None
        first = chosen[0].result.spec
        real, generation = first.scenario.real, first.generations
        synthetic = [cell.result.spec.scenario.synthetic for cell in chosen]
        last = [cell.result.exact_tv()[:, -1] for cell in chosen]
        means = [float(values.mean()) for values in last]
        errors = [float(values.std(ddof=1) / np.sqrt(values.size)) for values in last]
        alpha = kde_rate(standard_truth(first.truth).dim)  # the rate of the cells' power-rule bandwidth
        bounds = {}
        for claim in (name for name in CLAIMS if CLAIMS.get(name).phase_curve):
            records = [record for cell in chosen if (record := cell.claims.get(claim)) is not None]
            if len(records) == len(chosen):
                curve = [float(record.values["upper"][-1]) for record in records]
                bounds[claim] = {"values": curve, "peak": _peak(synthetic, curve)}
        shape = rise_then_fall(synthetic, last) if len(chosen) >= 3 else None
        return {
            "bounds": bounds,
            "real": real,
            "generation": generation,
            "synthetic": synthetic,
            "mean": means,
            "stderr": errors,
            "empirical_peak": synthetic[int(np.argmax(means))],
            "peak_interval": list(shape.interval) if shape else None,
            "alpha": alpha,
            "threshold": phase_threshold(alpha=alpha, n=real, generation=generation),
            "threshold_generation_1": phase_threshold(alpha=alpha, n=real, generation=1),
            "rises": bool(shape and shape.rises),
            "falls": bool(shape and shape.falls),
            "rises_then_falls": bool(shape and shape.rises_then_falls),
        }

    @staticmethod
    def _interval(phase: dict, text: str) -> str:
        interval = phase.get("peak_interval")
        return text.format(*interval) if interval else ""

    def rows(self, document: ResultsDocument) -> list[tuple]:
        phase = document.claims.get(self.id)
        if not phase:
            return []
        verdict = "rises then falls" if phase["rises_then_falls"] else "no significant rise then fall"
        return [
            (
                self.statement,
                self.whose,
                "Theorem P, growing-synthetic cells",
                f"{len(phase['synthetic'])} amounts",
                verdict,
                f"peak m = {phase['empirical_peak']}{self._interval(phase, ', 90% interval [{:.0f}, {:.0f}]')}; "
                f"m*_{phase['generation']} = {phase['threshold']:.0f}",
            )
        ]

    def headline(self, document: ResultsDocument) -> list[str]:
        phase = document.claims.get(self.id)
        if not phase:
            return []
        return [
            f"- **Phase transition**: mean TV at generation {phase['generation']} "
            + ("rises and then falls" if phase["rises_then_falls"] else "shows no significant rise then fall")
            + f" in m; it peaks at m = {phase['empirical_peak']}"
            + self._interval(phase, " (90% interval [{:.0f}, {:.0f}])")
            + f"; the symbolic threshold is m*_{phase['generation']} = {phase['threshold']:.0f}"
            + "".join(
                f"; the {claim_label(claim)} bound peaks at m = {curve['peak']}"
                for claim, curve in phase_bounds(phase)
                if curve["peak"]
            )
            + "."
        ]

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        phase = document.claims.get(self.id)
        if not phase:
            return []
        self.figure(phase, out)
        if phase["rises_then_falls"]:
            shape = "rises and then falls (a significant rise into and fall out of one m"
        else:
            shape = (
                ("rises" if phase["rises"] else "does not rise significantly")
                + (" and falls" if phase["falls"] else "")
                + " (no significant rise then fall"
            )
        shape += "; every pair compared at 1% with Bonferroni over the pairs)"
        lines = [
            "## Phase transition (Theorem P)",
            "",
            f"Growing synthetic data, n = {phase['real']} real points per generation, KDE with h = 0.9 N^(-1/5) (alpha = {phase['alpha']:.2f}). "
            f"Mean TV at generation {phase['generation']} {shape}.",
            "",
            f"| m | mean TV at generation {phase['generation']} | standard error |"
            + "".join(f" {claim_label(claim)} bound |" for claim, _ in phase_bounds(phase)),
            "|---|---|---|" + "---|" * len(phase.get("bounds", {})),
        ]
        for index, (m, mean, se) in enumerate(zip(phase["synthetic"], phase["mean"], phase["stderr"])):
            lines.append(
                f"| {m} | {mean:.4f} | {se:.4f} |"
                + "".join(f" {curve['values'][index]:.4f} |" for _, curve in phase_bounds(phase))
            )
        peaks = ", ".join(
            f"the {claim_label(claim)} bound at m = {curve['peak']}"
            if curve["peak"]
            else f"the {claim_label(claim)} bound is monotone on this grid"
            for claim, curve in phase_bounds(phase)
        )
        lines += [
            "",
            f"Where the curves peak: the empirical mean TV at m = {phase['empirical_peak']}"
            + self._interval(phase, " (90% bootstrap interval [{:.0f}, {:.0f}])")
            + f"; {peaks}; Theorem P's symbolic threshold "
            f"m*_{phase['generation']} = {phase['threshold']:.0f} (m*_1 = {phase['threshold_generation_1']:.0f}). Theorem P locates the peak of a "
            "rate bound eps(N) = C N^-alpha propagated by Lemma R; it need not coincide with the peak of the TV itself.",
            "",
            "![phase transition](phase.png)",
            "",
        ]
        return lines

    def figure(self, phase: dict, out: Path) -> str:
        """Mean TV against m with its 95% band, the bounds' own curves (Theorem K rescaled to the data), m* and the
        peaks."""
        figure, axis = new_figure(7.5, 4.5)
        synthetic = np.asarray(phase["synthetic"], dtype=float)
        shown = np.where(synthetic > 0, synthetic, synthetic[synthetic > 0].min() / 4 if np.any(synthetic > 0) else 1.0)
        mean, error = np.asarray(phase["mean"]), 1.96 * np.asarray(phase["stderr"])
        axis.plot(shown, mean, marker="o", color="C0", label=f"mean TV at generation {phase['generation']}")
        axis.fill_between(shown, mean - error, mean + error, color="C0", alpha=0.2, label="95% band")
        for (claim, curve), color in zip(phase_bounds(phase), ("C1", "C4")):
            values = np.asarray(curve["values"])
            registered = CLAIMS.get(claim) if claim in CLAIMS else None  # a document's claim may be unregistered now
            rescaled = registered is not None and registered.phase_curve == "rescaled"
            scale = mean.max() / values.max() if rescaled else 1.0
            text = f"{claim_label(claim)} bound" + (f" × {scale:.2f} (rescaled)" if scale != 1.0 else "")
            style = registered.line_style if registered is not None else "--"
            axis.plot(shown, values * scale, color=color, linestyle=style, label=text)
        dense = np.geomspace(max(shown[0], 1.0), shown[-1], 200)
        rate_curve = phase_curve(phase["alpha"], phase["real"], phase["generation"], dense)
        axis.plot(
            dense,
            rate_curve * mean.max() / rate_curve.max(),
            color="C3",
            linewidth=1,
            alpha=0.7,
            label=f"Theorem P's B_{phase['generation']}(m), rescaled",
        )
        axis.axvline(
            phase["threshold"],
            color="C3",
            linestyle="--",
            label=f"symbolic m*_{phase['generation']} = {phase['threshold']:.0f}",
        )
        interval = phase.get("peak_interval")
        if interval:
            axis.axvspan(
                max(interval[0], shown[0]),
                interval[1],
                color="C2",
                alpha=0.12,
                label=f"empirical peak, 90% interval [{interval[0]:.0f}, {interval[1]:.0f}]",
            )
        axis.set_xscale("log")
        axis.set_xlabel(f"synthetic points per generation m (n = {phase['real']} real; m = 0 drawn at the left edge)")
        axis.set_ylabel("TV")
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
        axis.set_title("Phase transition: growing synthetic data, KDE with h = 0.9 N^(-1/5)", fontsize=10)
        save_figure(figure, out / "phase.png")
        return "phase.png"


register_claim(TheoremP())
