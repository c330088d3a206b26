r"""Analytic expected densities of the KDE loop.

Given the past, the KDE of N points drawn from :math:`q_i` has expectation
:math:`K_h * q_i`, so by linearity (and the tower rule)

.. math::
    E\hat p_i = G_{h^2} * E q_i, \qquad
    E q_0 = p_0, \qquad
    E q_i = \lambda_i p_0 + (1-\lambda_i)\, E\hat p_{i-1}.

Unrolled for constant :math:`\lambda` (generation 0 all real):

.. math::
    E\hat p_i = \sum_{k=1}^{i} \lambda(1-\lambda)^{k-1}\, p_0 * G_{k h^2}
                + (1-\lambda)^i\, p_0 * G_{(i+1)h^2}.

Accumulating, generation i mixes the old fit with a KDE of the new points:
:math:`E\hat p_i = (1-a_i) E\hat p_{i-1} + a_i\, G_{h^2} * E q_i`.

The same holds for a reused real pool (expectation is linear); only the
fluctuations differ. Every term is a Gaussian mixture (``truth.smoothed``).

The recursion only needs ``smoothed`` and a ``combine`` class method, so it
runs unchanged on a :class:`SmoothedTruth`, which keeps every expected density
as a combination :math:`\sum_j w_j\, p_0 * G_{v_j}` of heat-smoothed truths:
the form the second-moment bound evaluates from one cache of :math:`p_0 * G_v`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np

from .scenario import Scenario
from .truth import GaussianMixture
from .validation import check_nonnegative_size, check_positive

__all__ = [
    "SmoothedTruth",
    "bandwidth_schedule",
    "expected_densities",
    "expected_kde_density",
    "expected_training_density",
]

Bandwidths = float | Sequence[float] | np.ndarray
#: What the mean recursion propagates: a mixture, or a combination of smoothings of one (:class:`SmoothedTruth`).
Smoothable = TypeVar("Smoothable", "GaussianMixture", "SmoothedTruth")


def bandwidth_schedule(bandwidth: Bandwidths, scenario: Scenario, generations: int) -> np.ndarray:
    """Per-generation bandwidths h_0..h_generations from a float or a sequence.

    A varying bandwidth (e.g. h_i = c N_i^(-1/5) when N_0 differs from N) is
    allowed except when accumulating, where the mixture form of the union
    KDE needs one bandwidth.
    """
    generations = check_nonnegative_size("generation", generations)
    if np.ndim(bandwidth) == 0:
        return np.full(generations + 1, check_positive("bandwidth", bandwidth))
    values = np.asarray(bandwidth, dtype=float)
    if values.shape[0] < generations + 1:
        raise ValueError(f"bandwidth: need {generations + 1} per-generation values, got {values.shape[0]}")
    values = np.array([check_positive("bandwidth", h) for h in values[: generations + 1]])
    if scenario.accumulate and np.ptp(values) > 0:
        raise ValueError("bandwidth must be constant in the accumulate scenario")
    return values


def expected_densities(
    truth: Smoothable, bandwidth: Bandwidths, scenario: Scenario, generations: int
) -> Iterator[tuple[Smoothable, Smoothable]]:
    r"""Yield :math:`(E q_i, E\hat p_i)` for i = 0..generations, in one pass.

    ``truth`` is a :class:`GaussianMixture` (the yielded densities are mixtures)
    or a :class:`SmoothedTruth` (they are combinations of smoothed truths).
    """
    variances = bandwidth_schedule(bandwidth, scenario, generations) ** 2
    real_fraction = scenario.real_fraction
    weights = scenario.new_data_weights(generations)
    combine = type(truth).combine
    training = truth
    fitted = truth.smoothed(variances[0])
    yield training, fitted
    for i in range(1, generations + 1):
        training = combine([(real_fraction, truth), (1 - real_fraction, fitted)])
        fitted = combine([(1 - weights[i], fitted), (weights[i], training.smoothed(variances[i]))])
        yield training, fitted


class SmoothedTruth:
    r"""A combination of heat-smoothed truths, :math:`f = \sum_j w_j\, p_0 * G_{v_j}`.

    Every expected density of a Gaussian KDE loop has this form (the mean
    recursion only mixes and smooths). Keeping the smoothing variances
    :math:`v_j` instead of flattening into mixture components lets many
    densities share the evaluations of :math:`p_0 * G_v` at a set of points.

    Parameters
    ----------
    truth : GaussianMixture
        :math:`p_0`.
    weights : dict mapping variance -> weight, optional
        Default ``{0.0: 1.0}``: :math:`p_0` itself.
    """

    def __init__(self, truth: GaussianMixture, weights: dict[float, float] | None = None) -> None:
        self.truth = truth
        self.weights = {0.0: 1.0} if weights is None else dict(weights)

    def __repr__(self) -> str:
        return f"SmoothedTruth({len(self.weights)} smoothings of {self.truth!r})"

    @staticmethod
    def variance_key(variance: float) -> float:
        """Variances equal to 12 significant digits are one smoothing (sums of h² in different orders)."""
        return float(f"{variance:.12g}")

    def smoothed(self, s2: float) -> SmoothedTruth:
        r""":math:`f * G_{s_2}`: every smoothing variance grows by ``s2``."""
        return SmoothedTruth(self.truth, {self.variance_key(v + s2): w for v, w in self.weights.items()})

    @classmethod
    def combine(cls, parts) -> SmoothedTruth:
        r""":math:`\sum_j c_j f_j` of smoothed versions of one truth; equal variances merge."""
        parts = [(float(c), f) for c, f in parts if c > 0]
        weights: dict[float, float] = {}
        for coefficient, density in parts:
            for variance, weight in density.weights.items():
                weights[variance] = weights.get(variance, 0.0) + coefficient * weight
        return cls(parts[0][1].truth, weights)

    def to_mixture(self) -> GaussianMixture:
        """The same density as a flat :class:`GaussianMixture`."""
        return GaussianMixture.combine([(w, self.truth.smoothed(v)) for v, w in self.weights.items()])

    def values(self, smoothed_truth_at) -> np.ndarray:
        """Values at the points where ``smoothed_truth_at(v)`` evaluates :math:`p_0 * G_v`."""
        return sum(w * smoothed_truth_at(v) for v, w in self.weights.items())


def _expectations(truth: GaussianMixture, bandwidth: Bandwidths, scenario: Scenario, generation: int):
    *_, last = expected_densities(truth, bandwidth, scenario, generation)
    return last


def expected_training_density(
    truth: GaussianMixture, bandwidth: Bandwidths, scenario: Scenario, generation: int
) -> GaussianMixture:
    r""":math:`E q_i`, the law of one of generation i's new training points, marginally over the past.

    ``bandwidth`` is one h or the per-generation h_0..h_i.
    """
    return _expectations(truth, bandwidth, scenario, generation)[0]


def expected_kde_density(
    truth: GaussianMixture, bandwidth: Bandwidths, scenario: Scenario, generation: int
) -> GaussianMixture:
    r""":math:`E \hat p_i` for a KDE loop with bandwidths ``bandwidth``, as an exact Gaussian mixture."""
    return _expectations(truth, bandwidth, scenario, generation)[1]
