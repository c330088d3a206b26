r"""The exact mean and variance of a KDE loop's fitted density, pointwise: :class:`KDEMoments`.

The mean :math:`\mu_i` is the exact mixture of :mod:`selfloop.simulators.expected`; the variance :math:`V_i` follows
the covariance recursion of :mod:`selfloop.bounds.second_moment` (docs/theory.md, section 5): every :math:`C_i` is a
finite sum of terms :math:`c\,\Phi^{(t_1,t_2)}_q` with q in :math:`\{p_0, \mu_0, \dots, \mu_{i-1}\}`, kept here
by (q, t1, t2), and its diagonal is closed-form.
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario, SmoothedTruth, bandwidth_schedule, expected_densities

__all__ = ["KDEMoments"]


class _SmoothedTruthAt:
    """Values of :math:`p_0 * G_v` at fixed points, computed once per variance v."""

    def __init__(self, truth: GaussianMixture, points: np.ndarray) -> None:
        self.truth, self.points = truth, points
        self._cache: dict[float, np.ndarray] = {}

    def __call__(self, variance: float) -> np.ndarray:
        key = SmoothedTruth.variance_key(variance)
        if key not in self._cache:
            self._cache[key] = self.truth.smoothed(key).pdf(self.points)
        return self._cache[key]


# a covariance term c * Phi^{(t1, t2)}_q; q = -1 is p0, q = k >= 0 is mu_k
_Key = tuple[int, float, float]


def _add(terms: dict[_Key, list], source: int, first: float, second: float, coefficient: float) -> None:
    if coefficient == 0.0:
        return
    first, second = sorted((first, second))
    key = (source, SmoothedTruth.variance_key(first), SmoothedTruth.variance_key(second))
    if key in terms:
        terms[key][0] += coefficient
    else:
        terms[key] = [coefficient, first, second]


class KDEMoments:
    r"""The exact mean :math:`\mu_i(x)` and variance :math:`V_i(x)` of a KDE loop's fitted density.

    Parameters
    ----------
    truth : GaussianMixture
        :math:`p_0`, in any dimension.
    bandwidth : float or sequence
        One h, or the per-generation :math:`h_0, \dots, h_G` (constant when accumulating).
    scenario : Scenario
        Any kind but a reused real pool (the variance recursion assumes fresh real data).
    generations : int

    Examples
    --------
    >>> from selfloop.simulators import Scenario, standard_truth
    >>> moments = KDEMoments(standard_truth("bimodal_1d"), 0.3, Scenario.mixed(500, 0.5), 3)
    >>> mean, variance = moments.evaluate([[0.0], [2.0]])
    >>> mean.shape, bool((variance > 0).all())
    ((4, 2), True)
    """

    def __init__(self, truth: GaussianMixture, bandwidth, scenario: Scenario, generations: int) -> None:
        if not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        if scenario.reuse_real:
            raise ValueError(
                "scenario: the second-moment bound assumes fresh real data; a reused real pool shares its points across "
                "generations (evaluate the fresh-data counterpart to show the outcome outside the theory)"
            )
        self.truth, self.scenario = truth, scenario
        self.bandwidths = bandwidth_schedule(bandwidth, scenario, generations)
        self.generations = generations
        self.means = [
            fitted for _, fitted in expected_densities(SmoothedTruth(truth), self.bandwidths, scenario, generations)
        ]
        self.covariance_terms = self._covariance_recursion()

    def _covariance_recursion(self) -> list[dict[_Key, list]]:
        scenario, generations = self.scenario, self.generations
        variances = self.bandwidths**2
        new_points = scenario.new_points(generations).astype(float)
        weights = scenario.new_data_weights(generations)
        synthetic, real = float(scenario.synthetic), float(scenario.real)
        terms: dict[_Key, list] = {}
        _add(terms, -1, variances[0], variances[0], 1.0 / new_points[0])
        history = [terms]
        for i in range(1, generations + 1):
            h2, w, size = variances[i], weights[i], new_points[i]
            keep, cross, smooth = (
                (1 - w) ** 2,
                (1 - w) * w * synthetic / size,
                w * w * self.resampling_factor(synthetic, size),
            )
            new: dict[_Key, list] = {}
            for (source, _, _), (coefficient, first, second) in terms.items():
                _add(new, source, first, second, keep * coefficient)
                _add(new, source, first + h2, second, cross * coefficient)
                _add(new, source, first, second + h2, cross * coefficient)
                _add(new, source, first + h2, second + h2, smooth * coefficient)
            _add(new, -1, h2, h2, w * w * real / size**2)
            _add(new, i - 1, h2, h2, w * w * synthetic / size**2)
            terms = new
            history.append(terms)
        return history

    @staticmethod
    def resampling_factor(synthetic: float, size: float) -> float:
        r""":math:`a = (s^2 - s)/N^2 = (1-\lambda)^2(1 - 1/s)`: how much of the previous covariance survives resampling.

        The :math:`-s/N^2` part is the previous fit's own fluctuation, which the
        synthetic points' conditional variance already contains.
        """
        return (synthetic**2 - synthetic) / size**2

    @property
    def largest_smoothing(self) -> float:
        """The largest smoothing variance any term applies to :math:`p_0` (sets the integration domain)."""
        return float(np.sum(self.bandwidths**2))

    def evaluate(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, variance)``, each of shape (generations + 1, n), at points ``x`` (n, d)."""
        points = np.atleast_2d(np.asarray(x, dtype=float))
        if points.shape[1] != self.truth.dim:
            raise ValueError(f"x must have shape (n, {self.truth.dim}), got {points.shape}")
        at = _SmoothedTruthAt(self.truth, points)
        identity = SmoothedTruth(self.truth)
        smoothed: dict[tuple[int, float], np.ndarray] = {}

        def smoothed_source(source: int, variance: float) -> np.ndarray:
            key = (source, variance)
            if key not in smoothed:
                base = identity if source < 0 else self.means[source]
                smoothed[key] = base.smoothed(variance).values(at)
            return smoothed[key]

        dim = self.truth.dim
        means = np.array([mean.values(at) for mean in self.means])
        variances = np.empty_like(means)
        for i, terms in enumerate(self.covariance_terms):
            diagonal: dict[float, float] = {}  # the integral part, as weights over p0 * G_v
            product = np.zeros(points.shape[0])
            for (source, key1, key2), (coefficient, first, second) in terms.items():
                base = identity if source < 0 else self.means[source]
                scale = coefficient * (2 * np.pi * (first + second)) ** (-dim / 2)
                harmonic = first * second / (first + second)
                for variance, weight in base.weights.items():
                    key = SmoothedTruth.variance_key(variance + harmonic)
                    diagonal[key] = diagonal.get(key, 0.0) + scale * weight
                product += coefficient * smoothed_source(source, key1) * smoothed_source(source, key2)
            integral = SmoothedTruth(self.truth, diagonal).values(at)
            variances[i] = np.maximum(integral - product, 0.0)
        return means, variances

    def mean(self, generation: int, x) -> np.ndarray:
        r""":math:`\mu_i(x)` at points ``x`` (n, d)."""
        return self.evaluate(x)[0][generation]

    def variance(self, generation: int, x) -> np.ndarray:
        r""":math:`V_i(x) = \operatorname{Var}\hat p_i(x)` at points ``x`` (n, d)."""
        return self.evaluate(x)[1][generation]
