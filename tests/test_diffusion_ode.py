"""The probability-flow ODE sampler: exact density by the change of variables, its convergence, d = 5."""

import numpy as np
import pytest

from selfloop.simulators import (
    EarlyStopping,
    FittedODEDiffusion,
    GaussianMixture,
    Grid,
    RandomFeatureDiffusion,
    gaussian_tv,
    standard_truth,
    tv_monte_carlo,
)

TRUTH = standard_truth("bimodal_1d")


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
    # 2-D: a step of 0.1, a quarter of the nodes (each an ODE solve) that 0.05 would cost
    spacing = 0.05 if truth.dim == 1 else 0.1
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
    merge = 5  # 0.25 wide in 1-D, 0.5 in 2-D
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
