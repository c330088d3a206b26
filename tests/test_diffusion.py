"""Random-feature diffusion: closed-form gradient flow, sampler density, learning, loops, bad input."""

import numpy as np
import pytest

from selfloop.simulators import EarlyStopping, RandomFeatureDiffusion, Scenario, run_loop, standard_truth, tv_quadrature
from selfloop.simulators.diffusion import _RANK_TOLERANCE

TRUTH = standard_truth("bimodal_1d")


def small_problem(width=8, size=40, seed=0):
    model = RandomFeatureDiffusion(width=width, noise_draws=4, seed=seed)
    rng = np.random.default_rng(seed)
    return model.training_problem(TRUTH.sample(size, rng), rng)


def explicit_descent(problem, stopping_time, steps):
    weights = np.zeros((problem.cross.shape[1], problem.width))
    rate = stopping_time / steps
    for _ in range(steps):
        weights = weights - rate * problem.gradient(weights)
    return weights


def test_closed_form_flow_equals_explicit_gradient_descent():
    """A(tau) in closed form vs small-step gradient descent, Richardson-extrapolated (error O(eta^2)), to 1e-6."""
    problem = small_problem()
    eigenvalues = np.linalg.eigvalsh(problem.gram)
    stopping_time = 3.0 * problem.width**2 / (2 * eigenvalues.max())  # 3 time constants of the stiffest direction
    coarse = explicit_descent(problem, stopping_time, 20_000)
    fine = explicit_descent(problem, stopping_time, 40_000)
    extrapolated = 2 * fine - coarse
    closed = problem.flow(stopping_time)
    assert np.linalg.norm(extrapolated - closed) <= 1e-6 * np.linalg.norm(closed)
    # negative control: the flow at a different time is not matched
    assert np.linalg.norm(problem.flow(1.05 * stopping_time) - extrapolated) > 1e-4 * np.linalg.norm(closed)


def test_loss_decreases_monotonically_in_stopping_time():
    problem = small_problem(width=32, size=200)
    scale = problem.width**2 / (2 * np.trace(problem.gram) / problem.width)
    losses = [problem.loss(problem.flow(tau)) for tau in scale * np.logspace(-3, 4, 30)]
    assert np.all(np.diff(losses) <= 1e-12)
    assert problem.loss(problem.flow(None)) <= losses[-1] + 1e-12
    assert problem.loss(problem.flow(0.0)) == pytest.approx(problem.target)


def test_infinite_time_is_minimum_norm_least_squares():
    """tau = infinity equals numpy.linalg.lstsq on the explicit design matrix (its minimum-norm solution)."""
    model = RandomFeatureDiffusion(width=64, noise_draws=2)
    data = TRUTH.sample(20, np.random.default_rng(0))  # 40 rows < 64 features: rank-deficient on purpose
    phi, targets = model.design(data, np.random.default_rng(1))
    problem = model.training_problem(data, np.random.default_rng(1))  # the same draws
    closed = problem.flow(None)
    # the flow treats eigenvalues of G below 1e-10 of the largest as zero: singular values of Phi below 1e-5
    solution, *_ = np.linalg.lstsq(phi / model.width, targets, rcond=np.sqrt(_RANK_TOLERANCE))
    np.testing.assert_allclose(closed, solution.T, rtol=1e-6, atol=1e-8 * np.abs(closed).max())


def test_sampler_density_integrates_to_one_and_matches_a_million_samples():
    """TV(histogram of 10^6 samples, binned grid density) is within the histogram's own noise, computed by simulation."""
    fitted = RandomFeatureDiffusion(width=32, steps=50).fit(TRUTH.sample(1000, np.random.default_rng(0)), np.random.default_rng(1))
    grid, density = fitted.density_grid()
    assert fitted.escaped_mass < 1e-9
    assert grid.integrate(density) == pytest.approx(1.0, abs=1e-6)
    samples = fitted.sample(10**6, np.random.default_rng(2))[:, 0]
    edges = np.arange(-6.0, 6.0 + 1e-9, 0.05)
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * grid.spacing[0])])
    probabilities = np.diff(np.interp(edges, grid.axes[0] + grid.spacing[0] / 2, np.concatenate([cumulative[1:], [cumulative[-1]]])))
    probabilities = np.append(probabilities, 1 - probabilities.sum())  # the rest of the line
    counts = np.histogram(samples, edges)[0]
    observed = np.append(counts, samples.size - counts.sum()) / samples.size

    def distance(frequencies, reference):
        return 0.5 * np.abs(frequencies - reference).sum()

    null = [distance(np.random.default_rng(seed).multinomial(samples.size, probabilities) / samples.size, probabilities) for seed in range(200)]
    threshold = np.mean(null) + 5 * np.std(null)
    assert distance(observed, probabilities) <= threshold
    # negative control: the same test rejects the density shifted by one bin
    assert distance(observed, np.roll(probabilities[:-1], 1).tolist() + [probabilities[-1]]) > threshold


def _generation_zero_tv(width, size, replicates):
    model = RandomFeatureDiffusion(width=width, noise_draws=8)
    return run_loop(TRUTH, model, Scenario.fully_synthetic(size), generations=0, seed=size + width, replicates=replicates).tv[:, 0]


def _clearly_smaller(smaller, larger, z=2.33):
    """One-sided 99% (normal) confidence that mean(smaller) < mean(larger)."""
    difference = larger.mean() - smaller.mean()
    stderr = np.sqrt(smaller.var(ddof=1) / smaller.size + larger.var(ddof=1) / larger.size)
    return difference - z * stderr > 0


@pytest.mark.slow
def test_learning_improves_with_data_and_width():
    tv = {size: _generation_zero_tv(256, size, 6) for size in (250, 1000, 4000)}
    print({size: f"{values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(values.size):.4f}" for size, values in tv.items()})
    assert _clearly_smaller(tv[1000], tv[250]) and _clearly_smaller(tv[4000], tv[1000])
    narrow, wide = _generation_zero_tv(64, 4000, 6), _generation_zero_tv(512, 4000, 6)
    print(f"width 64: {narrow.mean():.4f}, width 512: {wide.mean():.4f}")
    assert _clearly_smaller(wide, narrow)


@pytest.mark.parametrize(
    "scenario",
    [Scenario.fully_synthetic(400), Scenario.mixed(400, 0.5), Scenario.mixed(400, 0.5, reuse_real=True), Scenario.growing_synthetic(200, 400), Scenario.accumulating(400, 200)],
    ids=lambda scenario: scenario.kind,
)
def test_every_scenario_runs_with_the_diffusion_model(scenario):
    model = RandomFeatureDiffusion(width=64, steps=40, noise_draws=4)
    result = run_loop(TRUTH, model, scenario, generations=2, seed=0, replicates=1)
    assert result.tv.shape == (1, 3) and np.all((result.tv > 0) & (result.tv < 1))


def test_fully_synthetic_degrades_while_mixed_stays_bounded():
    model = RandomFeatureDiffusion(width=128, steps=60, noise_draws=4)
    fully = run_loop(TRUTH, model, Scenario.fully_synthetic(500), generations=6, seed=0, replicates=4).tv
    mixed = run_loop(TRUTH, model, Scenario.mixed(500, 0.5), generations=6, seed=0, replicates=4).tv
    print("fully synthetic mean TV:", fully.mean(0).round(3), "mixed:", mixed.mean(0).round(3))
    assert _clearly_smaller(fully[:, 0], fully[:, -1])
    assert _clearly_smaller(mixed[:, -1], fully[:, -1])


def test_two_dimensional_density_runs_and_integrates_to_one():
    truth = standard_truth("ring_2d")
    fitted = RandomFeatureDiffusion(width=32, steps=20, grid_spacing=0.15).fit(truth.sample(500, np.random.default_rng(0)), np.random.default_rng(0))
    grid, density = fitted.density_grid()
    assert grid.integrate(density) == pytest.approx(1.0 - fitted.escaped_mass, abs=1e-6)
    assert 0 < tv_quadrature(truth, fitted) < 1


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        (dict(width=0), "width"),
        (dict(stopping_time=-1.0), "stopping_time"),
        (dict(t0=1.0, horizon=0.5), "t0"),
        (dict(t0=-1e-3), "t0"),
        (dict(steps=0), "steps"),
        (dict(noise_draws=0), "noise_draws"),
        (dict(parameterization="other"), "parameterization"),
    ],
)
def test_bad_model_parameters_are_named(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        RandomFeatureDiffusion(**kwargs)


def test_bad_data_and_dimension_are_reported():
    model = RandomFeatureDiffusion(width=8, steps=5)
    with pytest.raises(ValueError, match="data contains NaN"):
        model.fit(np.array([[0.0], [np.nan]]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="scale"):
        EarlyStopping(0.0)
    fitted = model.fit(np.random.default_rng(0).normal(size=(50, 3)), np.random.default_rng(0))
    with pytest.raises(NotImplementedError, match="dimension <= 2"):
        fitted.pdf(np.zeros((1, 3)))
