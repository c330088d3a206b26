"""Random-feature diffusion: closed-form gradient flow, sampler density, learning, loops, bad input."""

import numpy as np
import pytest

from selfloop.simulators import (
    EarlyStopping,
    Execution,
    Grid,
    RandomFeatureDiffusion,
    Scenario,
    run_loop,
    standard_truth,
    tv_quadrature,
)
from selfloop.simulators.diffusion.training import _RANK_TOLERANCE
from selfloop.simulators.grid import Box

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
    # The weights themselves are ill-conditioned (singular values of Phi down to 1e-5 of the largest, so
    # kappa(G) ~ 1e10 and the two solvers' weights agree only to ~eps kappa(G)); what defines the
    # minimum-norm least-squares solution is its fitted values and its norm. The eigendecomposition of G
    # resolves a direction with eigenvalue 1e-10 lambda_max to ~eps / 1e-10 ~ 1e-6 of its share.
    fitted, expected = phi @ closed.T / model.width, phi @ solution / model.width
    np.testing.assert_allclose(fitted, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    assert np.linalg.norm(closed) == pytest.approx(np.linalg.norm(solution), rel=1e-5)
    # controls: a null-space direction keeps the fitted values but not the norm; a row-space one moves the fit
    _, _, directions = np.linalg.svd(phi)
    assert np.linalg.norm(closed + 3e-2 * np.linalg.norm(closed) * directions[-1]) != pytest.approx(
        np.linalg.norm(solution), rel=1e-5
    )
    moved = phi @ (closed + 1e-4 * np.linalg.norm(closed) * directions[0]).T / model.width
    assert np.max(np.abs(moved - expected)) > 1e-6 * np.abs(expected).max()


def test_sampler_density_integrates_to_one_and_matches_a_million_samples():
    """TV(histogram of 10^6 samples, binned grid density) is within the histogram's own noise, computed by simulation."""
    fitted = RandomFeatureDiffusion(width=32, steps=50).fit(
        TRUTH.sample(1000, np.random.default_rng(0)), np.random.default_rng(1)
    )
    grid, density = fitted.density_grid()
    assert fitted.escaped_mass < 1e-9
    assert grid.integrate(density) == pytest.approx(1.0, abs=1e-6)
    samples = fitted.sample(10**6, np.random.default_rng(2))[:, 0]
    edges = np.arange(-6.0, 6.0 + 1e-9, 0.05)
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * grid.spacing[0])])
    probabilities = np.diff(
        np.interp(edges, grid.axes[0] + grid.spacing[0] / 2, np.concatenate([cumulative[1:], [cumulative[-1]]]))
    )
    probabilities = np.append(probabilities, 1 - probabilities.sum())  # the rest of the line
    counts = np.histogram(samples, edges)[0]
    observed = np.append(counts, samples.size - counts.sum()) / samples.size

    def distance(frequencies, reference):
        return 0.5 * np.abs(frequencies - reference).sum()

    null = [
        distance(np.random.default_rng(seed).multinomial(samples.size, probabilities) / samples.size, probabilities)
        for seed in range(200)
    ]
    threshold = np.mean(null) + 5 * np.std(null)
    assert distance(observed, probabilities) <= threshold
    # negative control: the same test rejects the density shifted by one bin
    assert distance(observed, np.roll(probabilities[:-1], 1).tolist() + [probabilities[-1]]) > threshold


def _generation_zero_tv(width, size, replicates):
    model = RandomFeatureDiffusion(width=width, noise_draws=8)
    return run_loop(
        TRUTH, model, Scenario.fully_synthetic(size), generations=0, seed=size + width, replicates=replicates
    ).tv[:, 0]


def _clearly_smaller(smaller, larger, z=2.33):
    """One-sided 99% (normal) confidence that mean(smaller) < mean(larger)."""
    difference = larger.mean() - smaller.mean()
    stderr = np.sqrt(smaller.var(ddof=1) / smaller.size + larger.var(ddof=1) / larger.size)
    return difference - z * stderr > 0


@pytest.mark.slow
def test_learning_improves_with_data_and_width():
    tv = {size: _generation_zero_tv(256, size, 6) for size in (250, 1000, 4000)}
    print(
        {size: f"{values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(values.size):.4f}" for size, values in tv.items()}
    )
    assert _clearly_smaller(tv[1000], tv[250]) and _clearly_smaller(tv[4000], tv[1000])
    narrow, wide = _generation_zero_tv(64, 4000, 6), _generation_zero_tv(512, 4000, 6)
    print(f"width 64: {narrow.mean():.4f}, width 512: {wide.mean():.4f}")
    assert _clearly_smaller(wide, narrow)


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario.fully_synthetic(400),
        Scenario.mixed(400, 0.5),
        Scenario.mixed(400, 0.5, reuse_real=True),
        Scenario.growing_synthetic(200, 400),
        Scenario.accumulating(400, 200),
    ],
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
    fitted = RandomFeatureDiffusion(width=32, steps=20, grid_spacing=0.15).fit(
        truth.sample(500, np.random.default_rng(0)), np.random.default_rng(0)
    )
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
    with pytest.raises(ValueError, match='sampler="ode"'):
        fitted.pdf(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="sampler"):
        RandomFeatureDiffusion(sampler="euler")
    with pytest.raises(ValueError, match="features"):
        RandomFeatureDiffusion(features="shared")


# --------------------------------------------------------------------------- the probability-flow ODE


@pytest.mark.parametrize("truth_name", ["bimodal_1d", "ring_2d"])
def test_sde_grid_pdf_is_pdf_at_the_nodes(truth_name):
    """grid_pdf (one interpolation matrix per axis) equals pdf at every node of a grid that neither aligns with the
    density grid nor stays inside it (zero outside)."""
    truth = standard_truth(truth_name)
    fitted = RandomFeatureDiffusion(width=64, steps=20, noise_draws=4).fit(
        truth.sample(300, np.random.default_rng(0)), np.random.default_rng(1)
    )
    own, _ = fitted.density_grid()
    grid = Grid.covering(Box(own.lower - 1.37, own.lower + (np.asarray(own.shape) - 1) * own.spacing + 0.5), 0.07)
    expected = fitted.pdf(grid.points()).reshape(grid.shape)
    assert np.max(np.abs(fitted.grid_pdf(grid) - expected)) <= 1e-12 * expected.max()
    assert np.all(fitted.grid_pdf(grid)[(0,) * truth.dim] == 0.0)


@pytest.mark.parametrize("truth_name, spacing", [("bimodal_1d", None), ("ring_2d", 0.2)])
def test_replicates_sampled_and_densities_computed_together_equal_one_at_a_time(truth_name, spacing):
    """The batched sampler draws what each fit draws alone, and the batched grid densities are each fit's own.

    The fits' boxes differ (their training data do), so the batch's shared window is wider than some
    fits' own grids, and each fit's density is still the one on its own grid. The 2-D case uses a coarse
    grid so that it is batched (finer grids run one fit at a time).
    """
    truth = standard_truth(truth_name)
    model = RandomFeatureDiffusion(width=64, steps=30, noise_draws=4, grid_spacing=spacing)
    rng = np.random.default_rng(4)
    data = [
        truth.sample(size, rng) + shift for size, shift in ((150, 0.0), (300, 0.0), (600, 5.0))
    ]  # boxes that differ
    fits = [model.fit(points, rng) for points in data]
    boxes = [fit.sampler_box() for fit in fits]
    assert not np.allclose(boxes[2].upper, boxes[0].upper)
    together = model.sample_batch(fits, 500, [np.random.default_rng(seed) for seed in range(3)])
    for seed, fit in enumerate(fits):
        np.testing.assert_allclose(together[seed], fit.sample(500, np.random.default_rng(seed)), rtol=0, atol=1e-12)
    copies = [
        type(fit)(model, fit.weights, points, fit.stopping_time, fit.loss, fit.features)
        for fit, points in zip(fits, data)
    ]
    model.prepare_batch(fits)
    for fit, copy in zip(fits, copies):
        (grid, density), (own_grid, own_density) = fit.density_grid(), copy.density_grid()
        assert (
            grid.shape == own_grid.shape
            and np.allclose(grid.lower, own_grid.lower)
            and np.allclose(grid.spacing, own_grid.spacing)
        )
        np.testing.assert_allclose(density, own_density, rtol=0, atol=1e-12 * own_density.max())
        assert abs(fit.escaped_mass - copy.escaped_mass) < 1e-12
    # control: the densities of different fits are not interchangeable at that tolerance
    assert np.abs(fits[0].density_grid()[1] - copies[1].grid_pdf(fits[0].density_grid()[0])).max() > 1e-3


def test_loop_with_replicates_together_equals_one_at_a_time():
    """run_loop draws and prepares a generation's diffusion fits together; the numbers are those of one at a time."""
    truth, model = standard_truth("bimodal_1d"), RandomFeatureDiffusion(width=48, steps=30, noise_draws=4)
    options = dict(generations=2, seed=11, replicates=5, measures=["one_step"])
    together = run_loop(truth, model, Scenario.mixed(300, 0.5), **options)
    alone = run_loop(truth, model, Scenario.mixed(300, 0.5), execution=Execution(chunk_replicates=1), **options)
    np.testing.assert_allclose(together.tv, alone.tv, rtol=0, atol=1e-12)
    np.testing.assert_allclose(together.one_step, alone.one_step, rtol=0, atol=1e-12)
    np.testing.assert_allclose(together.models[-1].weights, alone.models[-1].weights, rtol=1e-8, atol=1e-12)
    assert len(np.unique(together.tv[:, -1])) == 5  # each replicate its own stream


@pytest.mark.parametrize("truth_name", ["bimodal_1d", "ring_2d"])
def test_sde_bounding_box_holds_all_but_the_asked_mass(truth_name):
    """The SDE fit's bounding box is read off its grid density: at most ``mass`` of the density lies outside it, and
    it is much smaller than the box the sampler's grid covers (control: a box 10% narrower leaves more outside)."""
    truth = standard_truth(truth_name)
    model = RandomFeatureDiffusion(width=64, steps=30, noise_draws=4)
    fitted = model.fit(truth.sample(400, np.random.default_rng(0)), np.random.default_rng(1))
    grid, density = fitted.density_grid()
    total = grid.integrate(density)

    def outside(box: Box) -> float:
        inside = np.ones(grid.shape, dtype=bool)
        for axis, nodes in enumerate(grid.axes):
            shape = [1] * grid.dim
            shape[axis] = nodes.size
            inside &= ((nodes >= box.lower[axis] - 1e-12) & (nodes <= box.upper[axis] + 1e-12)).reshape(shape)
        return total - grid.integrate(np.where(inside, density, 0.0))

    for mass in (1e-9, 1e-6):
        box = fitted.bounding_box(mass)
        assert outside(box) <= mass + 1e-12 * total  # outside() is total - inside: rounding of order 1e-16 * total
        sampler = fitted.sampler_box(mass)
        assert np.all(box.lower > sampler.lower + 1.0) and np.all(box.upper < sampler.upper - 1.0)
        narrower = Box(box.lower + 0.05 * (box.upper - box.lower), box.upper - 0.05 * (box.upper - box.lower))
        assert outside(narrower) > mass
    # TV on the quadrature grid the tight box gives equals TV on the sampler's whole box, to the 1e-9 mass left out
    wide = Grid.covering(
        Box.union([truth.bounding_box(), fitted.sampler_box()]), min(truth.grid_spacing, fitted.grid_spacing)
    )
    assert tv_quadrature(truth, fitted) == pytest.approx(tv_quadrature(truth, fitted, grid=wide), abs=2e-9)
