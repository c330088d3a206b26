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
"""

from __future__ import annotations

from ._validation import check_nonnegative_size, check_positive
from .scenario import Scenario
from .truth import GaussianMixture

__all__ = ["expected_kde_density", "expected_training_density"]


def _expectations(truth: GaussianMixture, bandwidth: float, scenario: Scenario, generation: int):
    bandwidth = check_positive("bandwidth", bandwidth)
    generation = check_nonnegative_size("generation", generation)
    variance = bandwidth**2
    real_fraction = scenario.real_fraction
    weights = scenario.new_data_weights(generation)
    training = truth
    fitted = truth.smoothed(variance)
    for i in range(1, generation + 1):
        training = GaussianMixture.combine([(real_fraction, truth), (1 - real_fraction, fitted)])
        fitted = GaussianMixture.combine([(1 - weights[i], fitted), (weights[i], training.smoothed(variance))])
    return training, fitted


def expected_training_density(truth: GaussianMixture, bandwidth: float, scenario: Scenario, generation: int) -> GaussianMixture:
    r""":math:`E q_i`, the law of one of generation i's new training points, marginally over the past."""
    return _expectations(truth, bandwidth, scenario, generation)[0]


def expected_kde_density(truth: GaussianMixture, bandwidth: float, scenario: Scenario, generation: int) -> GaussianMixture:
    r""":math:`E \hat p_i` for a fixed-bandwidth KDE loop, as an exact Gaussian mixture."""
    return _expectations(truth, bandwidth, scenario, generation)[1]
