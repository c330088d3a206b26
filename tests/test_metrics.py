"""Exact TV: quadrature against Gaussian closed forms, and the unbiased Monte Carlo estimator."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from selfloop.simulators import (
    GaussianMixture,
    TotalVariation,
    gaussian_tv,
    standard_truth,
    tv,
    tv_monte_carlo,
    tv_quadrature,
)
from selfloop.simulators.grid import Box, Grid, tail_quantile
from selfloop.simulators.smoothing import gaussian_blur


def single(mean, covariance):
    mean = np.atleast_1d(np.asarray(mean, float))
    return GaussianMixture([1.0], mean[None, :], np.atleast_2d(np.asarray(covariance, float))[None, :, :])


@given(
    shift=st.floats(-4, 4),
    variance1=st.floats(0.05, 5),
    variance2=st.floats(0.05, 5),
    equal=st.booleans(),
)
def test_quadrature_matches_one_dimensional_closed_forms(shift, variance1, variance2, equal):
    """Quadrature TV equals the closed forms to 1e-6 (equal and unequal variances)."""
    if equal or abs(variance1 - variance2) < 1e-6:
        variance2 = variance1
    exact = gaussian_tv([0.0], [[variance1]], [shift], [[variance2]])
    assert tv_quadrature(single([0.0], [[variance1]]), single([shift], [[variance2]])) == pytest.approx(exact, abs=1e-6)


@given(
    shift=st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
    correlation=st.floats(-0.8, 0.8),
    scale=st.floats(0.3, 2.0),
)
def test_quadrature_matches_two_dimensional_equal_covariance_closed_form(shift, correlation, scale):
    covariance = scale * np.array([[1.0, correlation], [correlation, 1.0]])
    exact = gaussian_tv([0.0, 0.0], covariance, shift, covariance)
    assert tv_quadrature(single([0.0, 0.0], covariance), single(shift, covariance)) == pytest.approx(exact, abs=1e-6)


def test_closed_form_properties():
    assert abs(gaussian_tv([0.0], [[1.0]], [0.0], [[1.0]])) <= 1e-15
    a = gaussian_tv([0.0], [[1.0]], [1.0], [[3.0]])
    assert a == pytest.approx(gaussian_tv([1.0], [[3.0]], [0.0], [[1.0]]), rel=1e-12)
    # unequal covariances in 2-D have an exact value too: |y|^2 is chi-square with 2 degrees of freedom, p1 > p2 where
    # |y|^2 < 4 log 2, so TV = P(chi2_2 < 4 log 2) - P(chi2_2 < 2 log 2) = 3/4 - 1/2
    assert gaussian_tv([0.0, 0.0], np.eye(2), [0.0, 0.0], 2 * np.eye(2)) == pytest.approx(0.25, abs=1e-9)


def test_monte_carlo_interval_covers_quadrature_value():
    truth = standard_truth("skewed_1d")
    other = truth.smoothed(0.3)
    exact = tv_quadrature(truth, other)
    estimate = tv_monte_carlo(truth, other, 100_000, np.random.default_rng(0))
    low, high = estimate.interval(z=3.29)  # two-sided 99.9%
    assert low <= exact <= high
    assert estimate.stderr < 0.002


def test_monte_carlo_rejects_a_wrong_reference_value():
    """Negative control: the same interval excludes a value that is off by 0.02."""
    truth = standard_truth("skewed_1d")
    other = truth.smoothed(0.3)
    low, high = tv_monte_carlo(truth, other, 100_000, np.random.default_rng(0)).interval(z=3.29)
    wrong = tv_quadrature(truth, other) + 0.02
    assert not low <= wrong <= high


def test_tv_dispatch_uses_monte_carlo_in_three_dimensions():
    truth = single(np.zeros(3), np.eye(3))
    model = single(np.array([0.5, 0.0, 0.0]), np.eye(3))
    exact = gaussian_tv(np.zeros(3), np.eye(3), [0.5, 0, 0], np.eye(3))
    assert tv(truth, model) == (exact, 0.0)  # equal covariances: the closed form
    mixture = GaussianMixture.combine([(0.5, truth), (0.5, model)])
    value, stderr = tv(truth, mixture, rng=np.random.default_rng(2), samples=100_000)
    assert abs(value - 0.5 * exact) < 4 * stderr


def test_grid_rejects_high_dimension():
    with pytest.raises(ValueError, match="dimension 1 or 2"):
        Grid.covering(Box(np.zeros(3), np.ones(3)), 0.1)


class _Histogram:
    """A histogram density, bins 0.5 wide: not smooth, so the quadrature's error estimate does not hold."""

    grid_spacing = 0.01

    def __init__(self, data):
        self.edges = np.arange(-6.0, 6.01, 0.5)
        self.heights, _ = np.histogram(data[:, 0], self.edges, density=True)

    def pdf(self, x):
        index = np.clip(np.searchsorted(self.edges, x[:, 0]) - 1, 0, len(self.heights) - 1)
        return np.where((x[:, 0] >= -6) & (x[:, 0] < 6), self.heights[index], 0.0)

    def bounding_box(self, mass=1e-9):
        from selfloop.simulators import Box

        return Box([-6.0], [6.0])


def test_a_non_smooth_density_gets_a_convergence_warning_and_a_smooth_one_does_not():
    import warnings

    from selfloop.simulators import KDE, AccuracyWarning, standard_truth

    truth = standard_truth("bimodal_1d")
    data = truth.sample(2000, np.random.default_rng(0))
    with pytest.warns(AccuracyWarning, match="not smooth"):
        tv_quadrature(truth, _Histogram(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        tv_quadrature(truth, KDE(0.3).fit(data[:300]))


def test_a_model_without_a_bounding_box_gets_monte_carlo_tv_with_a_warning():
    from selfloop.simulators import KDE, AccuracyWarning, Scenario, run_loop, standard_truth

    class Bare:
        """Only fit/pdf/sample: the FittedDensity protocol, not GridDensity."""

        def fit(self, data, rng=None):
            fitted = KDE(0.3).fit(data)
            return type("Fitted", (), {"pdf": staticmethod(fitted.pdf), "sample": staticmethod(fitted.sample)})()

    truth = standard_truth("bimodal_1d")
    with pytest.warns(AccuracyWarning, match="Monte Carlo"):
        result = run_loop(truth, Bare(), Scenario.mixed(300, 0.5), 1, replicates=2, measures=[TotalVariation(50_000)])
    exact = run_loop(truth, KDE(0.3), Scenario.mixed(300, 0.5), 1, replicates=2).tv
    assert np.all(result.tv_stderr > 0)
    assert np.all(np.abs(result.tv - exact) < 5 * result.tv_stderr + 1e-3)


@pytest.mark.parametrize("variance", [0.0, 1e-4, 0.003, 0.05, 1.0, (0.01, 0.0)])
def test_gaussian_blur_of_a_sparse_box_equals_the_direct_kernel_sum(variance):
    """The blur transforms only the box around the nonzero masses: it must equal the direct sum of the
    sampled, grid-normalised kernel over every node, edges (where mass leaves the grid) included."""
    grid = Grid(np.zeros(2), np.full(2, 0.1), (40, 33))
    masses = np.zeros(grid.shape)
    masses[3:15, 20:31] = np.random.default_rng(0).random((12, 11))
    variances = np.broadcast_to(np.asarray(variance, float), (2,))
    kernels = []
    for axis, n in enumerate(grid.shape):
        offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
        if variances[axis] <= 0:
            kernels.append(np.eye(n) / 0.1)
            continue
        reach = min(
            np.ceil(tail_quantile(1e-12) * np.sqrt(variances[axis]) / 0.1), n - 1
        )  # the kernel is cut at the grid
        values = np.where(np.abs(offsets) <= reach, np.exp(-0.5 * (0.1 * offsets) ** 2 / variances[axis]), 0.0)
        kernels.append(
            values / (np.exp(-0.5 * (0.1 * np.arange(-reach, reach + 1)) ** 2 / variances[axis]).sum() * 0.1)
        )
    direct = kernels[0] @ masses @ kernels[1].T
    assert np.max(np.abs(gaussian_blur(masses, grid, variance) - direct)) <= 1e-12 * np.max(direct)


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("variance", [0.0, 1e-4, 0.003, 0.05, 1.0])
def test_gaussian_blur_on_a_line_equals_the_direct_kernel_sum(variance, direct, monkeypatch):
    """The 1-D blur (a direct convolution of the occupied span, or an FFT above a size) against the dense sum."""
    from selfloop.simulators import smoothing as grid_module

    monkeypatch.setattr(grid_module, "_DIRECT_CONVOLUTION_PRODUCTS", 1 << 30 if direct else 0)
    grid = Grid(np.zeros(1), np.full(1, 0.1), (57,))
    masses = np.zeros(grid.shape)
    masses[2:30] = np.random.default_rng(1).random(28)
    offsets = np.arange(57)[:, None] - np.arange(57)[None, :]
    if variance == 0:
        kernel = np.eye(57) / 0.1
    else:
        reach = min(np.ceil(tail_quantile(1e-12) * np.sqrt(variance) / 0.1), 56)
        values = np.where(np.abs(offsets) <= reach, np.exp(-0.5 * (0.1 * offsets) ** 2 / variance), 0.0)
        kernel = values / (np.exp(-0.5 * (0.1 * np.arange(-reach, reach + 1)) ** 2 / variance).sum() * 0.1)
    direct_sum = kernel @ masses
    assert np.max(np.abs(gaussian_blur(masses, grid, variance) - direct_sum)) <= 1e-12 * np.max(direct_sum)


def test_the_one_dimensional_closed_form_is_exact_for_any_variance_ratio():
    """``gaussian_tv_1d`` against an 80-digit evaluation of the crossings and the masses between them (mpmath): within
    1e-14 over means and variances spread over decades, variance ratios down to 1e-80 (a collapsed fit: TV near 1,
    where the crossings of the unstandardised quadratic round to one point) and up to 1 + 1e-11, in either order.
    The loop's TV to a Gaussian truth, every replicate's at once, is the per-fit closed form. Control: the
    unstandardised quadratic, whose discriminant cancels, fails the same comparison where one law is collapsed."""
    import mpmath

    from selfloop.simulators import GaussianMLE, gaussian_tv_1d
    from selfloop.simulators.measurement import Measurement
    from selfloop.simulators.protocol import replicate_hooks

    mpmath.mp.dps = 80

    def reference(m1, v1, m2, v2):
        m1, v1, m2, v2 = (mpmath.mpf(float(value)) for value in (m1, v1, m2, v2))
        a, b = 1 / (2 * v2) - 1 / (2 * v1), m1 / v1 - m2 / v2
        c = m2**2 / (2 * v2) - m1**2 / (2 * v1) + mpmath.log(mpmath.sqrt(v2 / v1))
        root = mpmath.sqrt(b * b - 4 * a * c)
        low, high = sorted([(-b - root) / (2 * a), (-b + root) / (2 * a)])

        def mass(mean, variance):
            return mpmath.ncdf((high - mean) / mpmath.sqrt(variance)) - mpmath.ncdf(
                (low - mean) / mpmath.sqrt(variance)
            )

        return float(abs(mass(m1, v1) - mass(m2, v2)))

    rng = np.random.default_rng(0)
    cases = []
    for k in range(300):
        m1, m2, v1 = 2 * rng.normal(), 2 * rng.normal(), 10 ** rng.uniform(-3, 3)
        ratio = (10 ** rng.uniform(-6, 6), 1 + 10 ** rng.uniform(-11, -4), 10 ** rng.uniform(-80, -20))[k % 3]
        cases.append((m1, v1, m2, v1 * ratio) if k % 2 else (m2, v1 * ratio, m1, v1))
    got = gaussian_tv_1d(*np.array(cases).T)
    np.testing.assert_allclose(got, [reference(*case) for case in cases], rtol=0, atol=1e-14)
    # control: the unstandardised quadratic (a x^2 + b x + c in x, its discriminant a difference of huge terms) is
    # the same formula, and the comparison rejects it where one law is collapsed
    extreme = np.array(cases[2::3]).T
    m1, v1, m2, v2 = extreme
    a, b = 1 / (2 * v2) - 1 / (2 * v1), m1 / v1 - m2 / v2
    c = m2**2 / (2 * v2) - m1**2 / (2 * v1) + np.log(np.sqrt(v2 / v1))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = -0.5 * (b + np.copysign(np.sqrt(b * b - 4 * a * c), b))
        low, high = np.minimum(q / a, c / q), np.maximum(q / a, c / q)
        naive = np.abs(
            special.ndtr((high - m1) / np.sqrt(v1))
            - special.ndtr((low - m1) / np.sqrt(v1))
            - special.ndtr((high - m2) / np.sqrt(v2))
            + special.ndtr((low - m2) / np.sqrt(v2))
        )
    wrong = ~np.isclose(naive, [reference(*case) for case in extreme.T], rtol=0, atol=1e-14)
    assert wrong.mean() > 0.5, wrong.mean()

    truth, model = standard_truth("gaussian_1d"), GaussianMLE()
    fits = model.fit_batch([truth.sample(20, rng) for _ in range(50)])
    measured, errors = Measurement(truth, replicate_hooks(model), 100).tv_to_truth(fits, [rng] * len(fits))
    alone = [gaussian_tv(truth.means[0], truth.covariances[0], fit.means[0], fit.covariances[0]) for fit in fits]
    np.testing.assert_allclose(measured, alone, rtol=1e-14, atol=0)
    assert not np.any(errors)
