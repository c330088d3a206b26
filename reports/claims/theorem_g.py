"""Theorem G (beyond the paper): every fitted SDE diffusion model's TV under its own certificate, a rigorous bound
computed from the fitted network and p0 alone (:func:`selfloop.bounds.diffusion_certificate`). Checked per run, not
statistically: one run above its certificate refutes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cells import CellSpec
from ..records import ResultsDocument
from ..text import claim_verdicts, per_run_ratios
from ..verdicts import CERTIFICATE_TOLERANCE, per_run_verdict
from .base import Cell, Claim, register_claim
from .diffusion_cells import certified

__all__ = ["CertifiedClaim", "PerRunClaim", "TheoremG"]


class PerRunClaim(Claim):
    """A claim whose values are a bound per run (``upper``, (R, G + 1)), each run's TV checked against its own."""

    status = "rigorous"
    tested_by = "Theorem G (per run)"
    line_style = (0, (5, 1, 1, 1, 1, 1))

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        return {"per_run": per_run_verdict(cell.exact_tv(), values["upper"])}

    def rows(self, document: ResultsDocument) -> list[tuple]:
        verdicts = claim_verdicts(document.cells, self.id)
        if not verdicts:
            return []
        runs = sum(verdict["runs"] for verdict in verdicts)
        held = sum(verdict["runs_held"] for verdict in verdicts)
        ratios = per_run_ratios(verdicts)
        return [
            (
                self.statement,
                self.whose,
                self.tested_by,
                f"{runs} runs",
                f"{runs - held} / {held} / 0 / 0 (runs)",
                f"{min(ratios):.2f} (median {np.median(ratios):.2f})",
            )
        ]


class CertifiedClaim(PerRunClaim):
    """A per-run claim on the certified diffusion loop cells (the SDE sampler in d <= 2), read from the loop's
    ``certificate`` measure (:mod:`selfloop.bounds.certification`)."""

    per_run_label = "certificate"

    def applies(self, spec: CellSpec) -> bool:
        return certified(spec)

    def measures(self, spec: CellSpec) -> tuple[str, ...]:
        return ("certificate",)


class TheoremG(CertifiedClaim):
    id = "theorem_g"
    reads = ("theorem_d_certified",)  # its section shows Lemma R on the certified one-step errors beside each run
    label = "Theorem G"
    statement = "Diffusion: every fit's TV under its certificate (SDE sampler, d ≤ 2)"
    whose = "paper's claim, certified per fit (rigorous)"

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        return {"upper": cell.measured["certificate"]}

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Every certified cell, per generation: the runs' TVs against their certificates, and Lemma R on the
        certified one-step errors (*Theorem D, certified*) where it was computed."""
        chosen = [cell for cell in document.cells if self.id in cell.claims]
        if not chosen:
            return []
        lines = [
            "## Theorem G: every diffusion fit certified",
            "",
            "A rigorous bound on TV(p̂_i, p0) computed for each fitted network from the network and p0 alone (no fitted "
            "constant; docs/theory.md, section 8). The check is per run, not statistical: it holds when every run's measured TV "
            f"is at or below its own certificate at every generation (to {CERTIFICATE_TOLERANCE:g}).",
            "",
            "Where the training distribution is q_i = λ p0 + (1 − λ) p̂_{i−1} (fresh real data), the certificate against q_i "
            "bounds Lemma R's one-step error ε_i = TV(p̂_i, q_i) too, and Lemma R on the certified ε_i is a second per-run "
            "bound on TV_i: *Theorem D, certified*, with no fitted constant.",
            "",
            "| cell | generation | TV_i mean | certificate mean | certificate / TV (min–median–max over runs) | runs with TV ≤ certificate "
            "| ε_i measured mean | certified ε_i mean | Lemma R on certified ε (mean) | runs with TV ≤ Lemma R on certified ε |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            record = cell.claims[self.id]
            tv, certificate = np.asarray(cell.tv), np.asarray(record.values["upper"])
            held = np.asarray(record.verdicts["per_run"]["held"])
            propagation = self.read(cell, self.reads[0])
            measured = cell.measured.get("one_step")
            measured = None if measured is None else np.asarray(measured)
            for generation in range(tv.shape[1]):
                ratio = certificate[:, generation] / tv[:, generation]
                row = (
                    f"| {cell.label if generation == 0 else ''} | {generation} | {tv[:, generation].mean():.4f} | {certificate[:, generation].mean():.4f} | "
                    f"{ratio.min():.2f}–{np.median(ratio):.2f}–{ratio.max():.2f} | {int(np.sum(held[:, generation]))} / {tv.shape[0]} | "
                )
                row += "— | " if measured is None else f"{measured[:, generation].mean():.4f} | "
                if propagation is None:
                    row += "— | — | — |"
                else:
                    steps = np.asarray(propagation.values["certified_one_step"], dtype=float)
                    propagated = np.asarray(propagation.values["upper"])
                    under = int(np.sum(np.asarray(propagation.verdicts["per_run"]["held"])[:, generation]))
                    row += f"{steps[:, generation].mean():.4f} | {propagated[:, generation].mean():.4f} | {under} / {tv.shape[0]} |"
                lines.append(row)
        return lines + [""]


register_claim(TheoremG())
