"""Random-feature diffusion: closed-form gradient flow, sampler density, learning, loops, bad input."""

import numpy as np
import pytest

from selfloop.simulators import (
    EarlyStopping,
    FittedODEDiffusion,
    GaussianMixture,
    Grid,
    RandomFeatureDiffusion,
    Scenario,
    gaussian_tv,
    run_loop,
    standard_truth,
    tv_monte_carlo,
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


class ExactScoreDiffusion(FittedODEDiffusion):
    """The bimodal truth's exact score in place of the network (its divergence by the trapezoid rule over a step):
    the ODE must return the truth."""

    def score(self, x, t):
        score, _ = self._exact(x, t)
        return score

    def _exact(self, x, t):
        alpha, variance = np.exp(-t), TRUTH.covariances[:, 0, 0] * np.exp(-2 * t) + (1 - np.exp(-2 * t))
        means = TRUTH.means[:, 0] * alpha
        log_weights = np.log(TRUTH.weights) - 0.5 * (x[:, :1] - means) ** 2 / variance - 0.5 * np.log(variance)
        weights = np.exp(log_weights - log_weights.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        slopes = -(x[:, :1] - means) / variance
        score = np.sum(weights * slopes, axis=1, keepdims=True)
        return score, np.sum(weights * (slopes**2 - 1 / variance), axis=1) - score[:, 0] ** 2

    def step_divergence(self, before, after, current, following, state=None):
        start, end = (-1.0 - self._exact(x, t)[1] for x, t in ((before, current), (after, following)))
        return (following - current) * (start + end) / 2, None


def ode_model(width=64, steps=40, **kwargs):
    return RandomFeatureDiffusion(width=width, steps=steps, sampler="ode", noise_draws=4, **kwargs)


def test_ode_with_the_exact_score_returns_the_truth():
    """Integrator and change of variables, checked where the answer is known: TV(ODE density, p0) <= 2e-3
    (the t0 = 1e-3 smoothing and RK4 error); a sign error in the divergence gives TV > 0.1 (negative control)."""
    fitted = ode_model(steps=160).fit(TRUTH.sample(100, np.random.default_rng(0)), np.random.default_rng(0))
    fitted.__class__ = ExactScoreDiffusion
    x = np.linspace(-6, 6, 3001)[:, None]
    gap = 0.5 * np.sum(np.abs(fitted.pdf(x) - TRUTH.pdf(x))) * 0.004
    assert gap < 2e-3, gap
    end, change = fitted.flow(x, fitted.times()[::-1], divergence=True)
    flipped = np.exp(-0.5 * end[:, 0] ** 2 - change) / np.sqrt(2 * np.pi)
    assert 0.5 * np.sum(np.abs(flipped - TRUTH.pdf(x))) * 0.004 > 0.1


@pytest.mark.parametrize("truth_name", ["bimodal_1d", "ring_2d"])
def test_ode_density_holds_the_mass_of_its_own_samples_and_matches_them(truth_name):
    """d = 1 and 2: the learned ODE density integrates over its bounding box to the share of its own samples there (to 5e-3,
    Richardson-extrapolated in the grid step, plus binomial noise) and the
    multinomial distance between 2*10^5 samples and its masses on cells 0.25 (1-D) or 0.5 (2-D) wide is within the noise floor (mean + 5 sd of
    200 simulated multinomial draws); a density 5% too high and the density shifted by one cell are rejected (negative
    controls). Run over fits 0-3 of both truths: the density matched its samples in all 8; the shift control lost its
    power on one fit so flat (most of its mass escaped) that a 0.25 shift hardly changes it, so it runs on fit 0."""
    truth = standard_truth(truth_name)
    # EarlyStopping(0.3): a flow smooth at the grid's scale (the box integral moves by < 2e-3 from step 0.1 to
    # 0.025 in 2-D, measured over 4 fits). Under EarlyStopping(1) some fits, and under the default
    # EarlyStopping(10) all, pile mass into spikes narrower than the step: the density is still exact
    # pointwise, but a grid cannot integrate it (measured: box integrals 0.95, 1.00, 0.98 at steps 0.1, 0.05, 0.025)
    model = ode_model(width=64, steps=80, stopping_time=EarlyStopping(0.3))
    fitted = model.fit(truth.sample(500, np.random.default_rng(0)), np.random.default_rng(1))
    spacing = 0.05
    grid, coarse = (Grid.covering(fitted.sampler_box(), step) for step in (spacing, 2 * spacing))
    density = grid.evaluate(fitted)
    samples = fitted.sample(200_000, np.random.default_rng(2))
    # Richardson: the spikes make the grid's error first order in the step. Li's network has no inward far
    # field, so a weakly trained fit sends a share of the mass far beyond any box (here 8-40%); the
    # density must then integrate over the box to what its own samples leave inside it (binomial noise, 5 sd)
    box = fitted.sampler_box()
    in_box = np.mean(np.all((samples >= box.lower) & (samples <= box.upper), axis=1))
    box_mass = 2 * grid.integrate(density) - coarse.integrate(coarse.evaluate(fitted))
    tolerance = 5e-3 + 5 * np.sqrt(in_box * (1 - in_box) / samples.shape[0])
    assert box_mass == pytest.approx(in_box, abs=tolerance)
    assert 1.05 * box_mass != pytest.approx(in_box, abs=tolerance)  # control: a density 5% too high is caught
    # cells of several grid steps per axis: masses from the node values (midpoint rule), counts by nearest node
    merge = 5 if truth.dim == 1 else 10
    index = np.round((samples - grid.lower) / grid.spacing).astype(int)
    inside = np.all((index >= 0) & (index < np.asarray(grid.shape)), axis=1)
    cells = tuple(-(-n // merge) for n in grid.shape)
    counts = np.bincount(np.ravel_multi_index((index[inside] // merge).T, cells), minlength=int(np.prod(cells)))
    padded = np.zeros(tuple(c * merge for c in cells))
    padded[tuple(slice(0, n) for n in grid.shape)] = density * grid.cell_volume
    probabilities = (
        padded.reshape(*[x for c in cells for x in (c, merge)]).sum(axis=tuple(range(1, 2 * grid.dim, 2))).ravel()
    )
    observed = np.append(counts, samples.shape[0] - inside.sum()) / samples.shape[0]
    reference = np.append(probabilities, max(0.0, 1 - probabilities.sum()))
    reference /= reference.sum()

    def distance(frequencies, expected):
        return 0.5 * np.abs(frequencies - expected).sum()

    null = [
        distance(np.random.default_rng(seed).multinomial(samples.shape[0], reference) / samples.shape[0], reference)
        for seed in range(200)
    ]
    # the midpoint rule's cell masses err by O(spacing^2 p''): allow it on top of the sampling noise
    floor = np.mean(null) + 5 * np.std(null) + 0.5 * abs(box_mass - probabilities.sum()) + 5e-3
    assert distance(observed, reference) <= floor, (distance(observed, reference), floor)
    shifted = np.roll(reference[:-1].reshape(cells), 1, axis=0).ravel()
    assert distance(observed, np.append(shifted, reference[-1])) > floor


def test_ode_density_converges_at_second_order_in_the_step_count():
    """The log density at 40, 80 and 160 RK4 steps (the same fit): successive differences shrink by more than 2.5
    (second order gives 4; a Runge-Kutta rule on the ReLU divergence's steps would give 2), and 80 steps are within
    0.05 of 160 where the density is above 1e-3."""
    data = TRUTH.sample(500, np.random.default_rng(0))
    x = np.linspace(-4, 4, 401)[:, None]
    fits = [
        ode_model(width=64, steps=steps, stopping_time=EarlyStopping(1.0)).fit(data, np.random.default_rng(1))
        for steps in (40, 80, 160)
    ]
    np.testing.assert_allclose(fits[0].weights, fits[2].weights)  # the same features and weights
    coarse, middle, fine = (fitted.logpdf(x) for fitted in fits)
    where = fine > np.log(1e-3)
    first, second = np.max(np.abs(coarse - middle)[where]), np.max(np.abs(middle - fine)[where])
    print(f"log density changes: 40->80 steps {first:.4f}, 80->160 {second:.4f}")
    assert second < first / 2.5 and second < 0.05


def test_features_come_from_the_replicate_stream_unless_fixed():
    data = TRUTH.sample(200, np.random.default_rng(0))
    first = RandomFeatureDiffusion(width=16, steps=5).fit(data, np.random.default_rng(1))
    second = RandomFeatureDiffusion(width=16, steps=5).fit(data, np.random.default_rng(2))
    assert not np.allclose(first.features[0], second.features[0])
    fixed = [
        RandomFeatureDiffusion(width=16, steps=5, features="fixed").fit(data, np.random.default_rng(seed))
        for seed in (1, 2)
    ]
    np.testing.assert_array_equal(fixed[0].features[0], fixed[1].features[0])


def test_ode_monte_carlo_tv_in_five_dimensions_agrees_with_quadrature_free_checks():
    """d = 5, Gaussian truth: the Monte Carlo TV of the ODE model has a 99% interval inside [0, 1] narrower than 0.05;
    the density is the change of variables of the very map the sampler applies (the backward flow returns samples
    to their starting noise, and the integrated divergence equals log |det| of that map's Jacobian, by central
    differences, at 100 points; a sign error is caught); the TV is at least the TV between the truth and the
    Gaussian shifted by the samples' mean (a quadrature-free lower bound).

    Importance estimates of the density's mass (E_p0[p/p0], E_p[p0/p]) are not used: measured over 3 fits, their
    weights reach 200-1300 and the estimates scatter 0.79-1.00 with nominal errors of 0.03-0.08, and Li's network
    sends 2-10% of its samples beyond radius 8, where the truth never looks."""
    truth = GaussianMixture.isotropic([1.0], [np.zeros(5)], [1.0])
    fitted = ode_model(width=128, steps=40).fit(truth.sample(2000, np.random.default_rng(0)), np.random.default_rng(1))
    estimate = tv_monte_carlo(truth, fitted, 4000, np.random.default_rng(2))
    low, high = estimate.interval(2.58)
    print(f"d = 5 ODE model: TV = {estimate.value:.4f} (99% interval {low:.4f}-{high:.4f})")
    assert high - low < 0.05
    samples = fitted.sample(4000, np.random.default_rng(3))
    times = fitted.times()
    noise = np.random.default_rng(5).standard_normal((100, 5))
    x = fitted.flow(noise, times)  # what sample() does
    back, change = fitted.flow(x, times[::-1], divergence=True)  # what logpdf() does
    assert np.max(np.abs(back - noise)) < 1e-3
    step = 1e-5
    shifted = np.concatenate([x[:, None, :] + sign * step * np.eye(5)[None] for sign in (1, -1)], axis=1)
    ends = fitted.flow(shifted.reshape(-1, 5), times[::-1]).reshape(100, 2, 5, 5)
    log_determinant = np.linalg.slogdet((ends[:, 0] - ends[:, 1]) / (2 * step))[1]
    # measured: median 0.017, largest 0.098 at 40 steps (0.009 and 0.028 at 80), against a spread of 1.9 in change
    assert np.median(np.abs(log_determinant - change)) < 0.03 and np.max(np.abs(log_determinant - change)) < 0.15
    assert np.median(np.abs(log_determinant + change)) > 1.0  # control: the divergence with its sign flipped
    shift = gaussian_tv(np.zeros(5), np.eye(5), samples.mean(axis=0), np.eye(5))
    assert high >= shift - 0.05


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
    options = dict(generations=2, seed=11, replicates=5, one_step=True)
    together = run_loop(truth, model, Scenario.mixed(300, 0.5), **options)
    alone = run_loop(truth, model, Scenario.mixed(300, 0.5), chunk_replicates=1, **options)
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
