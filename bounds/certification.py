r"""Theorem G as a measurement of the loop: every fit certified while the loop runs.

:class:`Certification` is the loop measure ``certificate`` (entry point ``scloop.measures``), so
``run_loop(..., measures=["certificate"])`` hands each generation's fits to it, and the loop itself knows no theorem. Per fit it records:

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

from selfloop.simulators import FittedSDEDiffusion, GaussianMixture
from selfloop.simulators.measures import GenerationStep, LoopSpec

from .certificate import diffusion_certificate
from .ou_marginals import TrainingDistribution

__all__ = ["Certification"]


class Certification:
    """The loop measure ``certificate``: Theorem G for every fit (fields ``certificate``, ``certified_one_step``,
    ``score_error``)."""

    name = "certificate"
    fields = ("certificate", "certified_one_step", "score_error")

    def start(self, loop: LoopSpec) -> None:
        fitted_class = getattr(loop.model, "fitted_class", None)
        if not (isinstance(fitted_class, type) and issubclass(fitted_class, FittedSDEDiffusion)):
            raise ValueError(
                "certificate: the certificate is for a diffusion model sampled by the reverse SDE "
                "(RandomFeatureDiffusion with sampler='sde', or ScoreDiffusion)"
            )
        if not (isinstance(loop.truth, GaussianMixture) and loop.truth.dim <= 2):
            raise ValueError("certificate: the certificate needs a Gaussian-mixture truth in dimension 1 or 2")

    @staticmethod
    def _one(fit, previous, loop: LoopSpec) -> tuple[float, float, float]:
        truth, scenario = loop.truth, loop.scenario
        certificate = diffusion_certificate(fit, truth)
        direct, score = certificate.tv, certificate.score_error
        if previous is None:
            return direct, direct, score
        # q_i = lambda p0 + (1 - lambda) p_{i-1} is the training distribution with fresh real data and nothing
        # accumulated; in 2-D its certificate costs seconds a fit (docs/performance.md): there it is left to
        # diffusion_certificate
        if scenario.accumulate or scenario.reuse_real or truth.dim != 1:
            return direct, float("nan"), score
        against = TrainingDistribution(truth, previous, scenario.real_fraction)
        return direct, diffusion_certificate(fit, against).tv, score

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        previous = step.previous if step.previous is not None else [None] * len(step.fits)
        rows = np.array([self._one(fit, before, step.loop) for fit, before in zip(step.fits, previous)], dtype=float)
        return dict(zip(self.fields, rows.T))
