r"""The held-out negative log-likelihood, the peers' KDE metric, as a loop measure: :class:`HeldOutNLL` (``nll``).

Per replicate, a test set of ``size`` points is drawn once from the truth, from the replicate's own stream (so it is the
same whatever else is measured, and a peer's mistake, a test set from another distribution, cannot happen), and every
generation's fit is scored on it: :math:`-\frac1n\sum_j \log\hat p_i(x_j)`. A fit that gives a test point no density
scores :math:`+\infty`, as does a collapsed fit singular to the truth (it has no density there), recorded as such.
"""

from __future__ import annotations

import numpy as np

from .measures import MEASURES, GenerationStep, LoopSpec
from .validation import check_size

__all__ = ["HeldOutNLL", "negative_log_likelihood"]


def negative_log_likelihood(fitted, points: np.ndarray) -> float:
    r""":math:`-\frac1n\sum_j\log\hat p(x_j)` of ``points`` under ``fitted`` (its ``logpdf``, else the log of its
    ``pdf``); :math:`+\infty` where a point has density 0."""
    if hasattr(fitted, "logpdf"):
        logs = np.asarray(fitted.logpdf(points), dtype=float)
    else:
        with np.errstate(divide="ignore"):
            logs = np.log(np.asarray(fitted.pdf(points), dtype=float))
    return float(-np.mean(logs)) if np.all(np.isfinite(logs)) else float("inf")


class HeldOutNLL:
    """The measure ``nll``: every fit's mean negative log-likelihood of a held-out real test set of ``size`` points per
    replicate (module docstring). Its one field is ``nll``, (replicates, generations + 1)."""

    name, fields = "nll", ("nll",)

    def __init__(self, size: int = 1000) -> None:
        self.size = check_size("size", size)

    def __repr__(self) -> str:
        return f"HeldOutNLL(size={self.size})"

    def start(self, loop: LoopSpec) -> None:
        if not hasattr(loop.truth, "sample"):
            raise ValueError("nll: the truth must have sample(n, rng) to draw the test set")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        tests = step.memory.setdefault("test sets", {})
        generators = step.own_generators("nll test set")
        for index, rng in zip(step.replicates, generators):
            if index not in tests:
                tests[index] = np.asarray(step.loop.truth.sample(self.size, rng), dtype=float)
        return {"nll": np.array([negative_log_likelihood(fit, tests[r]) for fit, r in zip(step.fits, step.replicates)])}

    def collapsed(self, singular: bool) -> dict[str, float]:
        """A collapsed fit singular to the truth gives the test set no density: NLL is :math:`+\\infty`."""
        return {"nll": float("inf")} if singular else {}


MEASURES.register("nll", HeldOutNLL)
