r"""Accumulating data bounds the risk by :math:`\pi^2/6`, replacing it does not (Dey and Donoho 2024,
arXiv:2410.22812), for maximum-likelihood loops beyond linear regression: a Bernoulli probability (the categorical
model on two symbols), a Poisson rate and a logistic regression.

Per cell, per generation: the risk :math:`E\|\hat\theta_i - \theta\|^2` (replicate means) and its ratio to generation
0 (standard error by the delta method, the two means' covariance included). Verdicts:

- ``risk``: the exact law where there is one (Poisson: :func:`selfloop.bounds.poisson_risk`; Bernoulli:
  :func:`selfloop.bounds.categorical_squared_error`), every generation's z-score below the limit;
- ``bounded`` (accumulate): the ratio never significantly above :math:`\pi^2/6` (one-sided, the same z limit); the
  verdict states the smallest ratio it could have refuted;
- ``grows`` (replace): the last generation's ratio significantly above :math:`\pi^2/6`, the ceiling accumulating
  keeps, so the two workflows are told apart; its asymptotic pattern i + 1 is shown beside it.
"""

from __future__ import annotations

import numpy as np

from selfloop.bounds import PI_SQUARED_OVER_6, categorical_squared_error, poisson_risk, risk_ratio_pattern
from selfloop.simulators import Categorical, LogisticLaw, Poisson, standard_truth

from ..cells import CellSpec
from ..records import ResultsDocument
from ..text import cells_with
from ..verdicts import LAW_Z, law_check, replicate_mean
from .base import Cell, Claim, register_claim

__all__ = ["RiskRatio"]

#: The models this claim reads, with the parameter they record.
PARAMETERS = {"poisson_mle": "rate", "categorical_mle": "probabilities", "logistic_mle": "coefficients"}


def _workflow(spec: CellSpec) -> str | None:
    """``"replace"`` or ``"accumulate"`` for Dey and Donoho's two workflows (n real points, then n synthetic points a
    generation, kept or not), else None."""
    scenario = spec.scenario
    if scenario.kind == "fully_synthetic":
        return "replace"
    if scenario.kind == "accumulate" and scenario.real == 0 and scenario.synthetic == scenario.initial:
        return "accumulate"
    return None


def _truth_fits(spec: CellSpec) -> bool:
    truth, name = standard_truth(spec.truth), spec.model.name
    return (
        (name == "poisson_mle" and isinstance(truth, Poisson))
        or (name == "logistic_mle" and isinstance(truth, LogisticLaw))
        or (name == "categorical_mle" and isinstance(truth, Categorical) and truth.symbols == 2)
    )


class RiskRatio(Claim):
    id = "risk_ratio"
    label = "π²/6: accumulate against replace"
    statement = "MLE loops of exponential families: accumulating keeps the risk within π²/6 of generation 0's"
    whose = "Dey and Donoho 2024 (arXiv:2410.22812)"
    status = "exact law (Poisson, Bernoulli); asymptotic (logistic)"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        return (
            spec.kind == "loop" and spec.model.name in PARAMETERS and _workflow(spec) is not None and _truth_fits(spec)
        )

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        truth, name = cell.truth, cell.spec.model.name
        fitted = cell.measured[f"parameter.{PARAMETERS[name]}"]
        if name == "poisson_mle":
            error, law = (fitted - truth.rate) ** 2, poisson_risk(truth.rate, cell.scenario, cell.generations)
        elif name == "categorical_mle":  # the Bernoulli probability: half the squared error over both symbols
            error = (fitted[..., 1] - truth.probabilities[1]) ** 2
            law = categorical_squared_error(truth.probabilities, cell.scenario, cell.generations) / 2
        else:
            error, law = np.sum((fitted - truth.coefficients) ** 2, axis=2), None
        risk, risk_stderr = replicate_mean(error)
        ratio = risk / risk[0]
        centred = error - risk
        covariance = centred.T @ centred[:, 0] / (error.shape[0] - 1) / error.shape[0]  # cov(mean_i, mean_0)
        spread = risk_stderr**2 + ratio**2 * risk_stderr[0] ** 2 - 2 * ratio * covariance
        values = {
            "risk_measured": risk,
            "risk_stderr": risk_stderr,
            "ratio": ratio,
            "ratio_stderr": np.sqrt(np.maximum(spread, 0.0)) / risk[0],
            "pattern": risk_ratio_pattern(str(_workflow(cell.spec)), cell.generations),  # applies(): a workflow
        }
        if law is not None:
            values["risk_law"], values["ratio_law"] = law, law / law[0]
        return values

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        verdicts = {}
        if "risk_law" in values:
            verdicts["risk"] = law_check(values["risk_measured"], values["risk_stderr"], values["risk_law"])
        ratio, stderr = values["ratio"][1:], np.maximum(values["ratio_stderr"][1:], 1e-300)
        excess = (ratio - PI_SQUARED_OVER_6) / stderr
        if _workflow(cell.spec) == "accumulate":
            worst = float(max(np.max(excess), 0.0))
            verdicts["bounded"] = {
                "kind": "law",
                "holds": worst < LAW_Z,
                "max_abs_z": worst,
                "z_limit": LAW_Z,
                "outcome": "held" if worst < LAW_Z else "refuted",
                "detectable_ratio": float(PI_SQUARED_OVER_6 + LAW_Z * stderr[-1]),
            }
        else:
            grows = bool(excess[-1] >= LAW_Z)
            verdicts["grows"] = {
                "kind": "law",
                "holds": grows,
                "max_abs_z": 0.0 if grows else float(LAW_Z - excess[-1]),
                "z_limit": LAW_Z,
                "outcome": "held" if grows else "refuted",
                "z_above_ceiling": float(excess[-1]),
            }
        return verdicts

    def rows(self, document: ResultsDocument) -> list[tuple]:
        chosen = cells_with(document, self.id)
        if not chosen:
            return []
        rejected = sum(
            any(v["outcome"] == "refuted" for v in cell.claims[self.id].verdicts.values()) for cell in chosen
        )
        detail = "; ".join(
            f"{cell.spec.model['name']} {cell.spec.to_dict()['scenario']['kind']}: ratio {values['ratio'][-1]:.3f} "
            f"± {values['ratio_stderr'][-1]:.3f} at generation {len(values['ratio']) - 1} (pattern {values['pattern'][-1]:.3f})"
            for cell in chosen
            for values in [cell.claims[self.id].values]
        )
        outcome = f"{rejected} rejected / {len(chosen) - rejected} hold (z limit {LAW_Z:g})"
        return [(self.statement, self.whose, "every generation", str(len(chosen)), outcome, detail)]


register_claim(RiskRatio())
