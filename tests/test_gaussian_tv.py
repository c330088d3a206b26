"""The exact TV between two Gaussians in any dimension (the generalized chi-square route): against the 1-D closed form
padded and rotated, long Monte Carlo, an independent real-axis Imhof integral, and the pathological pairs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from selfloop.simulators import (
    Execution,
    GaussianMixture,
    GaussianMLE,
    Scenario,
    gaussian_tv,
    gaussian_tv_1d,
    regression_truth,
    run_loop,
    standard_truth,
    tv_monte_carlo,
)
from selfloop.simulators.gaussian_tv import _reduced
from selfloop.simulators.quadratic_form import exceedance

STATED = 8e-10  # the TV's stated absolute error: twice the default tolerance of each probability


def random_rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("dim", [2, 10, 50])
def test_a_one_dimensional_pair_padded_with_shared_coordinates_and_rotated_keeps_its_tv(dim):
    """Pad both laws with the same independent coordinates (a random covariance and mean), rotate at random: TV is the
    1-D closed form's, to the stated error."""
    rng = np.random.default_rng(dim)
    for _ in range(12):
        m1, v1, m2, v2 = rng.normal(), np.exp(2 * rng.normal()), rng.normal(), np.exp(2 * rng.normal())
        exact = gaussian_tv_1d(m1, v1, m2, v2)
        shared = rng.normal(size=(dim - 1, dim - 1))
        block, shift = shared @ shared.T + np.eye(dim - 1), rng.normal(size=dim - 1)
        mean1, mean2 = np.concatenate([[m1], shift]), np.concatenate([[m2], shift])
        cov1, cov2 = np.eye(dim), np.eye(dim)
        cov1[0, 0], cov2[0, 0] = v1, v2
        cov1[1:, 1:] = cov2[1:, 1:] = block
        rotation = random_rotation(rng, dim)
        value, error = gaussian_tv(
            rotation @ mean1,
            rotation @ cov1 @ rotation.T,
            rotation @ mean2,
            rotation @ cov2 @ rotation.T,
            return_error=True,
        )
        assert abs(value - exact) <= 1e-9 and error <= STATED


def test_random_pairs_agree_with_long_monte_carlo_in_two_to_fifty_dimensions():
    """Random pairs, exact TV against 200 000-draw Monte Carlo: within 4 standard errors (every pair)."""
    rng = np.random.default_rng(7)
    for dim in (2, 3, 5, 10, 25, 50):
        a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        cov1, cov2 = a @ a.T / dim + 0.3 * np.eye(dim), b @ b.T / dim + 0.3 * np.eye(dim)
        mean1, mean2 = rng.normal(size=dim) * 0.3, rng.normal(size=dim) * 0.3
        value = gaussian_tv(mean1, cov1, mean2, cov2)
        estimate = tv_monte_carlo(
            GaussianMixture([1.0], [mean1], [cov1]), GaussianMixture([1.0], [mean2], [cov2]), 200_000, rng
        )
        assert abs(value - estimate.value) < 4 * estimate.stderr, (dim, value, estimate)


def imhof_on_the_real_axis(a, beta, c) -> float:
    """P(sum a Z^2 + beta Z + c > 0) by Gil-Pelaez on the real axis with QUADPACK, a second method independent of the
    rotated ray, the fixed rules and the product bounds: Im[e^{itc} psi(t)]/t = (sin(ct) Re psi + cos(ct) Im psi)/t,
    the oscillating factor integrated by the Fourier-integral routine (QAWF) beyond t = 1."""

    def psi(t: float) -> complex:
        return np.exp(np.sum(-0.5 * np.log(1 - 2j * a * t) - beta**2 * t**2 / (2 * (1 - 2j * a * t))))

    def near(t: float) -> float:
        return float(np.imag(np.exp(1j * c * t) * psi(t)) / t)

    head, _ = integrate.quad(near, 0, 1, limit=500, epsabs=1e-12, epsrel=0)
    sine, _ = integrate.quad(lambda t: psi(t).real / t, 1, np.inf, weight="sin", wvar=c, epsabs=1e-12, limlst=200)
    cosine, _ = integrate.quad(lambda t: psi(t).imag / t, 1, np.inf, weight="cos", wvar=c, epsabs=1e-12, limlst=200)
    return 0.5 + (head + sine + cosine) / np.pi


def test_both_probabilities_agree_with_imhof_on_the_real_axis():
    rng = np.random.default_rng(3)
    for dim in (2, 3, 6):
        for _ in range(4):
            b = rng.normal(size=(dim, dim))
            cov = b @ b.T / dim + 0.4 * np.eye(dim)
            offsets, variances = _reduced(np.zeros(dim), np.eye(dim), rng.normal(size=(1, dim)) * 0.5, cov[None])
            forms = [
                (1 / variances - 1, -2 * offsets / variances, (offsets**2 / variances + np.log(variances)).sum(axis=1)),
                (1 - variances, -2 * offsets * np.sqrt(variances), (np.log(variances) - offsets**2).sum(axis=1)),
            ]
            for quadratic, linear, constant in forms:
                value, error = exceedance(quadratic, linear, constant)
                assert error[0] <= 4e-10
                assert abs(value[0] - imhof_on_the_real_axis(quadratic[0], linear[0], constant[0])) < 1e-9


@pytest.mark.parametrize(
    "mean2, cov2, reference, tolerance",
    [
        # narrow: variances 1e-6 and 1e-2 against N(0, I): TV near 1 (the pair; Monte Carlo 0.99907 +- 0.00002)
        ([0.3, -0.2], np.diag([1e-6, 1e-2]), 0.99907, 3e-5),
        # weights many orders apart: one direction 1e6 narrower, the other equal
        ([0.0, 0.0], np.diag([1e-6, 1.0]), float(gaussian_tv_1d(0, 1, 0, 1e-6)), 1e-9),
        # nearly equal: a relative variance change of 1e-7 (TV ~ 3e-8)
        ([0.0, 0.0], np.diag([1 + 1e-7, 1.0]), float(gaussian_tv_1d(0, 1, 0, 1 + 1e-7)), 1e-12),
        # equal covariances: the closed form 2 Phi(delta / 2) - 1
        ([1.0, 2.0], np.eye(2), float(gaussian_tv_1d(0, 1, np.sqrt(5.0), 1)), 1e-12),
    ],
    ids=["narrow", "orders_apart", "nearly_equal", "equal_covariances"],
)
def test_the_pathological_pairs(mean2, cov2, reference, tolerance):
    value, error = gaussian_tv(np.zeros(2), np.eye(2), mean2, cov2, return_error=True)
    assert abs(value - reference) <= tolerance and 0 <= value <= 1 and error <= STATED


def test_indefinite_weights_and_linear_directions_agree_with_monte_carlo():
    """Variances above and below 1 (weights of both signs) and directions of equal variance with offsets (the quadric
    linear there), in 5-D, against Monte Carlo."""
    rng = np.random.default_rng(11)
    rotation = random_rotation(rng, 5)
    cov2 = rotation @ np.diag([0.3, 3.0, 1.0, 1.0, 0.8]) @ rotation.T
    mean2 = rotation @ np.array([0.2, -0.1, 0.7, -0.4, 0.0])
    value = gaussian_tv(np.zeros(5), np.eye(5), mean2, cov2)
    estimate = tv_monte_carlo(
        GaussianMixture([1.0], [np.zeros(5)], [np.eye(5)]), GaussianMixture([1.0], [mean2], [cov2]), 400_000, rng
    )
    assert abs(value - estimate.value) < 4 * estimate.stderr


def test_a_batch_is_each_pair_alone_and_bad_input_is_named():
    rng = np.random.default_rng(5)
    covariances = np.array([np.cov(rng.normal(size=(12, 3)), rowvar=False) for _ in range(6)])
    means = rng.normal(size=(6, 3)) * 0.3
    batch = gaussian_tv(np.zeros(3), np.eye(3), means, covariances)
    alone = [gaussian_tv(np.zeros(3), np.eye(3), m, c) for m, c in zip(means, covariances)]
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="covariance2 must be positive definite"):
        gaussian_tv(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, 0.0]))
    with pytest.raises(ValueError, match="covariance1 must be symmetric"):
        gaussian_tv(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="mean2"):
        gaussian_tv(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))


def test_the_loop_measures_a_gaussian_fit_exactly_in_three_dimensions():
    """The Gaussian MLE loop's TV to a Gaussian truth in 3-D: exact (standard error 0), the fits' own gaussian_tv."""
    truth = standard_truth("gaussian_3d")
    result = run_loop(truth, GaussianMLE(), Scenario.mixed(20, 0.5), 2, seed=1, replicates=3)
    assert np.all(result.tv_stderr == 0) and np.all((result.tv > 0) & (result.tv < 1))
    fit = result.models[-1]
    direct = gaussian_tv(truth.means[0], truth.covariances[0], fit.means[0], fit.covariances[0])
    assert result.tv[-1, -1] == pytest.approx(direct, abs=1e-15)
    skipped = run_loop(
        truth, GaussianMLE(), Scenario.mixed(20, 0.5), 2, seed=1, replicates=3, execution=Execution(measure_tv=False)
    )
    np.testing.assert_array_equal(skipped.parameters["covariance"], result.parameters["covariance"])


def test_the_regression_loops_joint_laws_agree_with_their_own_closed_form_in_six_dimensions():
    """A fitted regression and its truth are joint Gaussians of (x, y) in d + 1 = 6 dimensions, whose TV has a closed form
    of its own, (2/pi) arctan(|w - w*| / (2 sigma)) (simulators.regression_tv), which the loop measures them by: the
    generalized chi-square route agrees with it on every run and generation (these forms, two opposite quadratic terms
    and no constant, are the route's slow case)."""
    from selfloop.simulators import LinearRegression, regression_tv

    truth = standard_truth("regression_5d")
    result = run_loop(truth, LinearRegression(1.0), Scenario.fully_synthetic(50), 4, seed=0, replicates=20)
    closed = regression_tv(result.parameters["weights"], truth.coefficients, 1.0)
    np.testing.assert_array_equal(result.tv, closed)  # the loop's route for two RegressionLaws of one noise
    fits = [regression_truth(weights, 1.0) for weights in result.parameters["weights"].reshape(-1, 5)]
    general = gaussian_tv(
        truth.means[0],
        truth.covariances[0],
        np.stack([fit.means[0] for fit in fits]),
        np.stack([fit.covariances[0] for fit in fits]),
    )
    np.testing.assert_allclose(general, closed.ravel(), rtol=0, atol=STATED)
