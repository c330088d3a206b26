r"""Theorem G as a measurement of the loop: every fit certified while the loop runs.

:class:`Certification` is the loop measure ``certificate`` (entry point ``selfloop.measures``), so
``run_loop(..., certify=True)`` or ``run_loop(..., measures=["certificate"])`` hands each generation's fits to it,
and the loop itself knows no theorem. Per fit it records:

- ``certificate``: :func:`selfloop.bounds.diffusion_certificate` against :math:`p_0`, a rigorous bound on
  :math:`\mathrm{TV}(\hat p_i, p_0)`;
- ``certified_one_step``: the certificate against the training distribution
  :math:`q_i = \lambda p_0 + (1-\lambda)\hat p_{i-1}` (:class:`selfloop.bounds.certificate.TrainingDistribution`), a
  certified bound on Lemma R's :math:`\varepsilon_i`; at generation 0 the certificate against :math:`p_0`; NaN where
  :math:`q_i` is not that mixture (a reused real pool, accumulated data) and in 2-D, where it costs seconds a fit;
- ``score_error``: the fit's integrated score error against :math:`p_0`, the quantity of Li et al.'s rate.
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import FittedSDEDiffusion, GaussianMixture, Scenario
from selfloop.simulators.measures import GenerationStep

from .certificate import diffusion_certificate
from .ou_marginals import TrainingDistribution

__all__ = ["Certification"]


class Certification:
    """The loop measure ``certificate``: Theorem G for every fit (fields ``certificate``, ``certified_one_step``,
    ``score_error``)."""

    name = "certificate"
    fields = ("certificate", "certified_one_step", "score_error")

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None:
        fitted_class = getattr(model, "fitted_class", None)
        if not (isinstance(fitted_class, type) and issubclass(fitted_class, FittedSDEDiffusion)):
            raise ValueError(
                "certify: the certificate is for a diffusion model sampled by the reverse SDE "
                "(RandomFeatureDiffusion with sampler='sde', or ScoreDiffusion)"
            )
        if not (isinstance(truth, GaussianMixture) and truth.dim <= 2):
            raise ValueError("certify: the certificate needs a Gaussian-mixture truth in dimension 1 or 2")
        self.truth = truth
        # q_i = lambda p0 + (1 - lambda) p_{i-1} is the training distribution with fresh real data and nothing
        # accumulated; in 2-D its certificate costs seconds a fit (docs/performance.md): there it is left to
        # diffusion_certificate
        self.mixed = not (scenario.accumulate or scenario.reuse_real) and truth.dim == 1
        self.real_fraction = scenario.real_fraction

    def _one(self, fit, previous) -> tuple[float, float, float]:
        certificate = diffusion_certificate(fit, self.truth)
        direct, score = certificate.tv, certificate.score_error
        if previous is None:
            return direct, direct, score
        if not self.mixed:
            return direct, float("nan"), score
        against = TrainingDistribution(self.truth, previous, self.real_fraction)
        return direct, diffusion_certificate(fit, against).tv, score

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        previous = step.previous if step.previous is not None else [None] * len(step.fits)
        rows = np.array([self._one(fit, before) for fit, before in zip(step.fits, previous)], dtype=float)
        return dict(zip(self.fields, rows.T))
