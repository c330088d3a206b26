r"""The linear-regression loop's risk law (Gerstgrasser et al. 2024, arXiv:2404.01413; Dohmatob, Feng and Kempe 2024,
arXiv:2402.07712): the replicates' mean :math:`\|\hat w_i - w^*\|^2` against :func:`selfloop.bounds.regression_risk_law`,
exact for replace (linear growth, collapse) and accumulate (bounded), and the loop's TV in closed form from the fits.
"""

from __future__ import annotations

import numpy as np

from selfloop.bounds import regression_risk_law
from selfloop.simulators import regression_tv

from ..cells import CellSpec
from ..records import ResultsDocument
from ..text import cells_with, law_outcome
from ..verdicts import law_check, replicate_mean
from .base import Cell, Claim, register_claim

__all__ = ["RegressionRisk"]

#: The law of each scenario kind, as the claims table words it.
LAWS = {
    "fully_synthetic": "Regression, replace: the risk grows linearly, (i + 1) σ²d/(T − d − 1)",
    "accumulate": "Regression, accumulate: the risk stays below σ²d/(T − d − 1) · π²/6",
}


class RegressionRisk(Claim):
    id = "regression_risk"
    label = "Regression risk law"
    whose = "Gerstgrasser et al. 2024 (arXiv:2404.01413), exact law"
    status = "exact law"
    in_cell_table = False

    def applies(self, spec: CellSpec) -> bool:
        """The OLS loop, fully synthetic (replace) or accumulating synthetic pairs onto the first real ones, T pairs every
        generation (the law's setting)."""
        scenario = spec.scenario
        return (
            spec.model.name == "ols"
            and spec.kind == "loop"
            and scenario.kind in LAWS
            and scenario.real == 0
            and scenario.synthetic == scenario.initial
        )

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        truth, scenario = cell.truth, cell.scenario
        optimum, noise = truth.covariances[0, :-1, -1], float(cell.spec.model.get("noise", 1.0))
        weights = cell.measured["parameter.weights"]  # (replicates, generations + 1, d)
        risk, risk_stderr = replicate_mean(np.sum((weights - optimum) ** 2, axis=2))
        return {
            "risk_measured": risk,
            "risk_stderr": risk_stderr,
            "risk_law": regression_risk_law(
                optimum.size, scenario.initial, noise, cell.generations, accumulate=scenario.accumulate
            ),
            "tv_exact": regression_tv(weights, optimum, noise).mean(axis=0),
        }

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        return {"law": law_check(values["risk_measured"], values["risk_stderr"], values["risk_law"])}

    def rows(self, document: ResultsDocument) -> list[tuple]:
        rows = []
        for kind, statement in LAWS.items():
            found = cells_with(document, self.id, kind)
            if not found:
                continue
            last = "; ".join(
                f"{values['risk_measured'][-1]:.4f} ± {values['risk_stderr'][-1]:.4f} (law {values['risk_law'][-1]:.4f}), "
                f"TV {values['tv_exact'][-1]:.3f}"
                for cell in found
                for values in [cell.claims[self.id].values]
            )
            rows.append(
                (
                    statement,
                    self.whose,
                    "E ‖ŵ_i − w*‖², every generation",
                    str(len(found)),
                    law_outcome(found, self.id),
                    f"risk at the last generation: {last}",
                )
            )
        return rows


register_claim(RegressionRisk())
