"""GaussianMixture: exact densities, sampling, smoothing and the functionals the bounds need."""

import numpy as np
import pytest
from scipy import integrate, stats

from selfloop.simulators import GaussianMixture, standard_truth
from selfloop.simulators.standard_truths import STANDARD_TRUTHS


def single(mean, covariance):
    mean = np.atleast_1d(np.asarray(mean, float))
    return GaussianMixture([1.0], mean[None, :], np.atleast_2d(covariance)[None, :, :])


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name in STANDARD_TRUTHS
        if isinstance(standard_truth(name), GaussianMixture) and standard_truth(name).dim <= 2
    ),
)
def test_standard_truth_density_integrates_to_one(name):
    truth = standard_truth(name)
    grid = truth.quadrature_grid()
    assert grid.integrate(grid.evaluate(truth)) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "name", sorted(name for name in STANDARD_TRUTHS if hasattr(standard_truth(name), "support_probabilities"))
)
def test_a_discrete_truth_lists_a_law(name):
    """A finite-support truth's probabilities sum to 1 and its pmf at the listed points is them."""
    truth = standard_truth(name)
    table = truth.support_probabilities()
    assert table.sum() == pytest.approx(1.0, abs=1e-12) and np.all(table >= 0)
    points = truth.sample(50, np.random.default_rng(0))
    assert points.shape == (50, truth.dim) and np.all(truth.pmf(points) > 0)


def test_ten_dimensional_truth_density_integrates_to_one_by_importance_sampling():
    """E_g[p/g] = 1 with g the mixture with doubled covariances (finite variance): within 4 standard errors."""
    truth = standard_truth("mixture5_10d")
    proposal = GaussianMixture(truth.weights, truth.means, 2.0 * truth.covariances)
    x = proposal.sample(200_000, np.random.default_rng(0))
    ratio = np.exp(truth.logpdf(x) - proposal.logpdf(x))
    assert abs(ratio.mean() - 1.0) < 4 * ratio.std(ddof=1) / np.sqrt(ratio.size)
    assert truth.dim == 10 and truth.components == 5


def test_pdf_matches_scipy_and_logpdf_is_stable_in_tails():
    truth = GaussianMixture([0.3, 0.7], [[0.0, 1.0], [2.0, -1.0]], [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]])
    x = np.array([[0.1, 0.2], [3.0, -2.0], [-1.0, 4.0]])
    reference = 0.3 * stats.multivariate_normal([0, 1], np.eye(2)).pdf(x) + 0.7 * stats.multivariate_normal(
        [2, -1], [[2, 0.5], [0.5, 1]]
    ).pdf(x)
    np.testing.assert_allclose(truth.pdf(x), reference, rtol=1e-12)
    far = truth.logpdf(np.array([[1e3, -1e3]]))
    assert np.isfinite(far).all() and far[0] < -1e5


def test_sample_moments_agree_with_exact_moments():
    truth = standard_truth("ring_2d")
    x = truth.sample(200_000, np.random.default_rng(1))
    stderr = np.sqrt(np.diag(truth.covariance()) / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - truth.mean()) < 5 * stderr)
    np.testing.assert_allclose(np.cov(x.T), truth.covariance(), atol=0.03)


def test_smoothed_is_the_exact_convolution():
    truth = standard_truth("skewed_1d")
    s2 = 0.2
    smoothed = truth.smoothed(s2)
    for point in (-1.0, 0.7, 2.5):
        value, _ = integrate.quad(
            lambda y: truth.pdf(np.array([[y]]))[0] * stats.norm.pdf(point - y, scale=np.sqrt(s2)), -10, 10, limit=200
        )
        assert smoothed.pdf(np.array([[point]]))[0] == pytest.approx(value, rel=1e-9)
    assert truth.smoothed(0) is truth


def test_squared_norm_moments_match_gaussian_formulas():
    mean, covariance = np.array([0.5, -1.0]), np.array([[1.5, 0.3], [0.3, 0.7]])
    gaussian = single(mean, covariance)
    second = np.trace(covariance) + mean @ mean
    fourth = second**2 + 2 * np.trace(covariance @ covariance) + 4 * mean @ covariance @ mean
    assert gaussian.squared_norm_moment(1) == pytest.approx(second, rel=1e-12)
    assert gaussian.squared_norm_moment(2) == pytest.approx(fourth, rel=1e-12)
    assert gaussian.weight_moment(2) == pytest.approx(1 + 2 * second + fourth, rel=1e-12)
    # order 3 against Monte Carlo
    x = gaussian.sample(400_000, np.random.default_rng(0))
    q3 = np.sum(x**2, axis=1) ** 3
    assert abs(q3.mean() - gaussian.squared_norm_moment(3)) < 5 * q3.std() / np.sqrt(q3.size)


def test_laplacian_matches_finite_differences():
    truth = standard_truth("ring_2d")
    x = np.array([[0.3, 1.1], [2.0, 0.1]])
    step = 1e-4
    numeric = sum((truth.pdf(x + step * e) - 2 * truth.pdf(x) + truth.pdf(x - step * e)) / step**2 for e in np.eye(2))
    np.testing.assert_allclose(truth.laplacian(x), numeric, rtol=1e-5)


def test_laplacian_l1_closed_form_in_one_dimension():
    sigma = 0.7
    # ||phi''||_1 = 4 phi(1) / sigma^2 for N(0, sigma^2)
    assert single([0.0], [[sigma**2]]).laplacian_l1().value == pytest.approx(4 * stats.norm.pdf(1) / sigma**2, rel=1e-8)


def test_laplacian_l1_monte_carlo_interval_covers_exact_value_in_three_dimensions():
    sigma2, dim = 0.5, 3
    gaussian = single(np.zeros(dim), sigma2 * np.eye(dim))
    # Delta phi = phi (|x|^2/s^2 - d/s)  =>  ||Delta phi||_1 = E|chi2_d - d| / s
    exact = integrate.quad(lambda q: abs(q - dim) * stats.chi2.pdf(q, dim), 0, 200, points=[dim])[0] / sigma2
    estimate = gaussian.laplacian_l1(samples=200_000, rng=np.random.default_rng(3))
    low, high = estimate.interval(z=4.0)
    assert low <= exact <= high
    assert estimate.stderr < 0.01 * exact


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_sqrt_integral_closed_form(dim):
    covariance = np.diag(np.linspace(0.5, 1.5, dim))
    gaussian = single(np.ones(dim), covariance)
    exact = (8 * np.pi) ** (dim / 4) * np.linalg.det(covariance) ** 0.25
    estimate = gaussian.sqrt_integral(rng=np.random.default_rng(0))
    if dim <= 2:
        assert estimate.value == pytest.approx(exact, rel=1e-9)
    else:
        assert abs(estimate.value - exact) < 4 * estimate.stderr


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        (dict(weights=[0.5, 0.6], means=[[0.0], [1.0]], covariances=np.ones((2, 1, 1))), "weights"),
        (dict(weights=[-0.5, 1.5], means=[[0.0], [1.0]], covariances=np.ones((2, 1, 1))), "weights"),
        (dict(weights=[1.0], means=[[np.nan]], covariances=np.ones((1, 1, 1))), "means"),
        (dict(weights=[1.0], means=[[0.0]], covariances=-np.ones((1, 1, 1))), "covariances"),
        (dict(weights=[1.0], means=[[0.0, 1.0]], covariances=np.ones((1, 1, 1))), "covariances"),
    ],
)
def test_bad_mixture_parameters_are_named(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        GaussianMixture(**kwargs)


def test_bad_evaluation_input_is_named():
    truth = standard_truth("ring_2d")
    with pytest.raises(ValueError, match="x has dimension 1"):
        truth.pdf(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="x contains NaN"):
        truth.pdf(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="s2"):
        truth.smoothed(-1.0)
    with pytest.raises(ValueError, match="n must be"):
        truth.sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="name"):
        standard_truth("nope")


def test_log_sum_exp_is_scipys_without_its_overhead():
    """The mixtures' log-sum-exp equals scipy.special.logsumexp to 1e-14 relative (wide logs, ties, a zero weight's
    -inf), returns one term exactly, gives -inf and not NaN where every term is -inf, and does not overflow where the
    plain formula does; a shift of 1e-9 in one term is seen (control)."""
    from scipy import special

    from selfloop.simulators.logspace import log_sum_exp

    rng = np.random.default_rng(0)
    for components in (2, 3, 7):
        logs = rng.normal(scale=300.0, size=(components, 500))
        logs[:, :4] = 1.5  # ties at the maximum
        logs[0, 4:8] = -np.inf  # a component of weight zero
        expected = special.logsumexp(logs, axis=0)
        np.testing.assert_allclose(log_sum_exp(logs), expected, rtol=1e-14, atol=0)
        np.testing.assert_allclose(log_sum_exp(logs.T, axis=1), expected, rtol=1e-14, atol=0)
        shifted = logs.copy()
        shifted[:, 10] += 1e-9
        assert not np.allclose(log_sum_exp(shifted), expected, rtol=1e-14, atol=0)
    single = rng.normal(size=(1, 50))
    assert np.array_equal(log_sum_exp(single), single[0])
    assert np.array_equal(log_sum_exp(np.full((3, 2), -np.inf)), np.full(2, -np.inf))
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.log(np.sum(np.exp(np.full((2, 1), 800.0)), axis=0))[0])  # the plain formula overflows
    assert log_sum_exp(np.full((2, 1), 800.0))[0] == pytest.approx(800.0 + np.log(2.0), rel=1e-15)
