r"""The diffusion loop's early-stopping limit (Khelifa, Turner and Venkataramanan 2026, arXiv:2606.13796), in every
certified 1-D diffusion loop cell with fresh data.

The ideal loop of the cell's stopping time :math:`t_0` and real fraction :math:`\lambda` (the exact score, exact
sampling, unlimited data: :func:`selfloop.bounds.early_stopping_limit`) returns :math:`\hat p_i = K_{t_0} q_i`; its TV to
p0 per generation and its floor :math:`\mathrm{TV}(\hat p_\infty, p_0)` are put beside the loop's mean TV: the part of
it that no amount of data or training removes. The check: the cell's own sampler (its steps, :math:`t_0` and horizon)
run with the exact score of the ideal :math:`q_i` reaches the ideal :math:`\hat p_i` within what Theorem G allows it,
:math:`\min(\sqrt{KL/2}, \sqrt{1 - e^{-KL}})` with KL its certificate's initialisation and discretisation parts (the
score part is 0), at every generation. Deterministic: exact TV by quadrature against a rigorous bound, to
:data:`selfloop.reports.verdicts.CERTIFICATE_TOLERANCE`. The ideal loop depends on the setting alone (truth,
:math:`t_0`, :math:`\lambda`, generations, steps, horizon), so it is kept in the persistent cache and computed once for
the cells that share it. docs/theory.md, section 8.7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfloop.bounds import diffusion_certificate, early_stopping_limit, ou_marginal, tv_from_kl
from selfloop.simulators import GaussianMixture, ScoreDiffusion, standard_truth, tv_quadrature
from selfloop.simulators.persistent import cached

from ..cells import CellSpec
from ..fingerprint import code_fingerprint
from ..models import build_model
from ..records import ResultsDocument
from ..text import cells_with
from ..verdicts import per_run_verdict, replicate_mean
from .base import Cell, Claim, register_claim
from .diffusion_cells import certified

__all__ = ["EarlyStoppingClaim", "ideal_loop_check"]


def _exact_score_model(q: GaussianMixture, steps: int, stopping_time: float, horizon: float) -> ScoreDiffusion:
    """:class:`ScoreDiffusion` with the exact score of q's forward marginals, whatever data it is fitted on."""

    def score(x: np.ndarray, t: float) -> np.ndarray:
        return ou_marginal(q, t).score(x)

    return ScoreDiffusion(lambda data, rng: score, steps, stopping_time, horizon)


def ideal_loop_check(
    truth: GaussianMixture,
    stopping_time: float,
    real_fraction: float,
    generations: int,
    steps: int,
    horizon: float,
    *,
    drop_discretisation: bool = False,
) -> dict[str, np.ndarray]:
    r"""The ideal loop and its exact-score sampler, per generation i = 0..G.

    Returns ``ideal_tv`` (:math:`\mathrm{TV}(\hat p_i, p_0)`), ``floor`` (one value), ``sampler_tv`` (the SDE sampler
    with the exact score of :math:`q_i` against :math:`\hat p_i`, by quadrature) and ``allowed`` (Theorem G's
    :math:`\min(\sqrt{KL/2}, \sqrt{1 - e^{-KL}})` from the sampler's initialisation and discretisation parts).
    ``drop_discretisation`` is the negative control: the allowance without the discretisation part is *not* a bound.
    """
    ideal = early_stopping_limit(truth, stopping_time, real_fraction, generations)
    sampler_tv, allowed = [], []
    for generation, q in enumerate(ideal.training):
        unused = truth.sample(8, np.random.default_rng(0))  # the exact score ignores its data
        fit = _exact_score_model(q, steps, stopping_time, horizon).fit(unused, np.random.default_rng(0))
        certificate = diffusion_certificate(fit, q, drop_discretisation=drop_discretisation)
        kl = certificate.parts["initialisation"] + certificate.parts["discretisation"]
        sampler_tv.append(tv_quadrature(fit, ideal.generations[generation]))
        allowed.append(tv_from_kl(kl))
    return {
        "ideal_tv": np.asarray(ideal.tv, dtype=float),
        "floor": np.array([ideal.floor]),
        "sampler_tv": np.array(sampler_tv),
        "allowed": np.array(allowed),
    }


class EarlyStoppingClaim(Claim):
    id = "early_stopping"
    label = "Early-stopping limit"
    statement = "Diffusion: the exact-score sampler reaches the ideal loop K_t0 q_i within its certified KL; the floor TV(p̂_∞, p0)"
    whose = "Khelifa et al. 2026 (arXiv:2606.13796), exact law with Theorem G"
    status = "rigorous"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        """Certified 1-D diffusion loops with fresh data (a fixed real fraction, nothing accumulated): where the ideal
        loop's training distribution is :math:`\\lambda p_0 + (1 - \\lambda)\\hat p_{i-1}`. 2-D is checked in the tests
        (each generation a certificate of seconds)."""
        scenario = spec.scenario
        return (
            certified(spec)
            and standard_truth(spec.truth).dim == 1
            and not scenario.accumulate
            and not scenario.reuse_real
            and scenario.initial == scenario.size
        )

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        model = build_model(cell.spec.model)
        setting = (float(model.t0), float(cell.scenario.real_fraction), cell.generations, model.steps, model.horizon)
        truth = cell.truth
        values = cached(
            "claims.early_stopping",
            (truth.key, *setting),
            lambda: ideal_loop_check(truth, *setting),
            version=code_fingerprint(),
        )
        measured, measured_stderr = replicate_mean(cell.tv)
        return {**values, "measured": measured, "measured_stderr": measured_stderr}

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        """The exact-score sampler at or below its allowance at every generation (one 'run', deterministic)."""
        return {"sampler": per_run_verdict(values["sampler_tv"][None, :], values["allowed"][None, :])}

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        records = [cell.claims[self.id] for cell in chosen]
        held = sum(record.verdicts["sampler"]["outcome"] == "held" for record in records)
        floors = [record.values["floor"][0] for record in records]
        shares = [record.values["ideal_tv"][-1] / record.values["measured"][-1] for record in records]
        return [
            (
                self.statement,
                self.whose,
                "exact-score sampler against the ideal loop, every generation",
                f"{len(chosen)} cells",
                f"{len(chosen) - held} / {held} / 0 / 0",
                f"floor {min(floors):.4f}–{max(floors):.4f}; ideal / mean TV at the last generation: median "
                f"{np.median(shares):.2f}",
            )
        ]

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Per cell: the floor, the ideal loop's and the loop's TV at the last generation, and the sampler check."""
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        lines = [
            "## The early-stopping limit",
            "",
            "With the exact score and exact sampling, a diffusion model stopped at t0 returns K_t0 q_i, its training "
            "distribution smoothed by the forward process over t0; with a real fraction λ the loop converges geometrically "
            "to a mixture of ever more smoothed copies of p0 (Khelifa, Turner and Venkataramanan 2026; docs/theory.md, "
            "section 8.7). Its TV to p0 is a floor that no amount of data removes. Per cell: that floor, the ideal loop's "
            "TV and the loop's mean TV at the last generation, and the cell's own sampler run with the exact score of the "
            "ideal q_i, whose TV to the ideal p̂_i must be within what Theorem G's initialisation and discretisation parts "
            "allow, at every generation.",
            "",
            "| cell | floor TV(p̂_∞, p0) | ideal TV at the last generation | mean TV ± se | exact-score sampler TV / allowed (worst) | check |",
            "|---|---|---|---|---|---|",
        ]
        for cell in chosen:
            record = cell.claims[self.id]
            values, verdict = record.values, record.verdicts["sampler"]
            ratios = np.asarray(values["sampler_tv"], dtype=float) / np.asarray(values["allowed"], dtype=float)
            lines.append(
                f"| {cell.label} | {values['floor'][0]:.4f} | {values['ideal_tv'][-1]:.4f} | "
                f"{values['measured'][-1]:.4f} ± {values['measured_stderr'][-1]:.4f} | {np.max(ratios):.2f} | "
                f"{'holds' if verdict['outcome'] == 'held' else '**REFUTED**'} |"
            )
        return lines + [""]


register_claim(EarlyStoppingClaim())
