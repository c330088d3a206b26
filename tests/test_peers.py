"""The peers' experiments in the harness: collapse as an outcome, TV trustworthy as fits narrow, accumulate-subsample
and both variance estimators with their exact laws, E log det, deep-collapse accuracy, the peers' truths, held-out
likelihood and total collapse of the categorical loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from selfloop.bounds import categorical_collapse_time, categorical_law, mle_log_det, mle_moments
from selfloop.reports.verdicts import LAW_Z
from selfloop.simulators import (
    KDE,
    Categorical,
    CategoricalMLE,
    DegenerateFit,
    Execution,
    GaussianMixture,
    GaussianMLE,
    Grid,
    RandomFeatureDiffusion,
    Scenario,
    TotalVariation,
    run_loop,
    standard_truth,
    tv,
    tv_monte_carlo,
)


def standard_normal(dim: int) -> GaussianMixture:
    return GaussianMixture([1.0], np.zeros((1, dim)), np.eye(dim)[None])


# --------------------------------------------------------------------------- collapse as an outcome
def test_a_replace_cell_at_d10_n32_finishes_with_its_collapsed_replicates_counted_at_tv_one():
    """Collapse-or-Thrive's (d, n) = (10, 32) replace cell over 60 generations: the replicates whose covariance
    degenerates stop there, at TV exactly 1 from then on; the others go on; no TV is missing or outside [0, 1]."""
    result = run_loop(standard_normal(10), GaussianMLE(), Scenario.fully_synthetic(32), 60, seed=0, replicates=12)
    collapsed = np.flatnonzero(result.collapsed_at >= 0)
    assert 0 < collapsed.size < 12 and result.collapsed == collapsed.size
    for replicate in collapsed:
        assert np.all(result.tv[replicate, result.collapsed_at[replicate] :] == 1.0)
        assert np.all(np.isnan(result.parameters["covariance"][replicate, result.collapsed_at[replicate] :]))
    assert np.all(np.isfinite(result.tv)) and np.all((result.tv >= 0) & (result.tv <= 1))
    assert np.all(result.tv[result.collapsed_at < 0, -1] < 1.0)


def test_a_replicate_does_not_depend_on_another_collapsing_and_n_at_most_d_collapses_at_once():
    """Replicates run together equal each run alone whatever collapses beside them; n <= d points give a singular
    covariance, so every replicate collapses at generation 0 (TV 1), while fitting such a sample directly raises."""
    truth, scenario = standard_normal(10), Scenario.fully_synthetic(12)
    together = run_loop(truth, GaussianMLE(), scenario, 14, seed=3, replicates=6)
    alone = run_loop(truth, GaussianMLE(), scenario, 14, seed=3, replicates=6, execution=Execution(chunk_replicates=1))
    assert together.collapsed > 0
    np.testing.assert_array_equal(together.collapsed_at, alone.collapsed_at)
    np.testing.assert_allclose(together.tv, alone.tv, rtol=0, atol=1e-12)
    few = run_loop(truth, GaussianMLE(), Scenario.fully_synthetic(8), 3, seed=0, replicates=4)
    assert np.all(few.collapsed_at == 0) and np.all(few.tv == 1.0)
    with pytest.raises(ValueError, match="data") as raised:
        GaussianMLE().fit(truth.sample(8, np.random.default_rng(0)))
    assert isinstance(raised.value, DegenerateFit) and raised.value.singular


def test_a_fit_whose_density_degenerates_when_measured_collapses_alone():
    """A narrow random-feature diffusion model whose SDE sampler loses its mass off the grid fails when its density is
    first computed, at the TV measure: that replicate collapses there (its TV not measured, NaN), the others go on,
    each equal to its run alone; when every replicate collapses the TV is still there, all NaN."""
    truth, model = standard_truth("bimodal_1d"), RandomFeatureDiffusion(width=16, steps=20, noise_draws=8)
    together = run_loop(truth, model, Scenario.fully_synthetic(200), 1, seed=2, replicates=3)
    alone = run_loop(
        truth, model, Scenario.fully_synthetic(200), 1, seed=2, replicates=3, execution=Execution(chunk_replicates=1)
    )
    assert together.collapsed_at.tolist() == alone.collapsed_at.tolist() == [-1, 1, 1]
    np.testing.assert_allclose(together.tv, alone.tv, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(together.tv[0])) and np.all(np.isnan(together.tv[1:, 1]))
    everyone = run_loop(truth, model, Scenario.fully_synthetic(100), 0, seed=0, replicates=1)
    assert everyone.collapsed == 1 and everyone.tv is not None and np.all(np.isnan(everyone.tv))


def test_the_report_counts_collapsed_replicates_and_decides_bounds_but_not_laws_on_them():
    from selfloop.reports.assemble import _summary
    from selfloop.reports.sweep import run_cell

    spec = {
        "kind": "loop",
        "model": {"name": "mle"},
        "truth": "gaussian_3d",
        "scenario": {"kind": "fully_synthetic", "size": 4},
        "generations": 12,
        "replicates": 12,
    }
    result = run_cell(spec, 0)
    assert _summary(result)["collapsed"] > 0
    assert "mle_laws" not in result.claims and "gaussian_mle" in result.claims


# --------------------------------------------------------------------------- TV at every scale
def test_tv_stays_a_tv_as_fits_narrow():
    """The two values the issue found outside [0, 1]: a narrow 2-D Gaussian pair (now exact) and a 2-D KDE of
    bandwidth 0.003 (a grid cannot resolve it beside the truth, so it is Monte Carlo, with its standard error, and
    agrees with a long independent run on the same fit)."""
    wide = GaussianMixture([1.0], np.zeros((1, 2)), np.eye(2)[None])
    narrow = GaussianMixture([1.0], [[0.3, -0.2]], np.diag([1e-6, 1e-2])[None])
    value, stderr = tv(wide, narrow)
    check = tv_monte_carlo(wide, narrow, 400_000, np.random.default_rng(1))
    assert stderr == 0.0 and abs(value - check.value) < 4 * check.stderr
    ring = standard_truth("ring_2d")
    draws = [TotalVariation(samples=20_000)]
    result = run_loop(ring, KDE(0.003), Scenario.fully_synthetic(200), 1, seed=0, replicates=2, measures=draws)
    assert np.all((result.tv >= 0) & (result.tv <= 1)) and np.all(result.tv_stderr > 0)
    long = tv_monte_carlo(ring, result.models[-1], 80_000, np.random.default_rng(5))
    spread = np.hypot(long.stderr, result.tv_stderr[-1, -1])
    assert abs(result.tv[-1, -1] - long.value) < 4 * spread


def test_a_route_that_returns_a_value_outside_zero_one_is_an_error_never_a_reported_tv(monkeypatch):
    """The negative control: a route that gave 1.03 (what the capped grid gave) raises instead of being reported."""
    from selfloop.simulators.measurement import Measurement

    monkeypatch.setattr(
        Measurement, "tv_to_truth", lambda self, fits, rngs, samples=None: (np.full(len(fits), 1.03), 0)
    )
    with pytest.raises(RuntimeError, match="not a total variation"):
        run_loop(standard_truth("bimodal_1d"), KDE(0.3), Scenario.fully_synthetic(50), 1, replicates=2)


# --------------------------------------------------------------------------- workflows, estimators and their laws
def max_z(samples: np.ndarray, law: np.ndarray) -> float:
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return float(np.max(np.abs(samples.mean(axis=0) - law) / stderr)[()])


SUBSAMPLE = Scenario.accumulating(20, 20, fit_size=20)
NO_TV = Execution(measure_tv=False)  # the laws are of the parameters


@pytest.mark.parametrize("ddof", [0, 1])
def test_accumulate_subsample_and_both_estimators_follow_their_laws_and_the_wrong_laws_fail(ddof):
    """1-D accumulate-subsample (a fit on 20 points drawn from the growing pool) with either estimator: the fitted
    variance and the mean's squared error against the pool recursion (|z| < LAW_Z at every generation); the controls,
    the full pool's law and the other estimator's, are rejected by the same runs."""
    truth = standard_truth("gaussian_1d")
    scale = truth.covariances[0, 0, 0]
    result = run_loop(truth, GaussianMLE(ddof=ddof), SUBSAMPLE, 12, seed=ddof, replicates=2000, execution=NO_TV)
    variance = result.parameters["variance"] / scale
    offset = (result.parameters["mean"] - truth.means[0, 0]) ** 2 / scale
    law = mle_moments(truth, SUBSAMPLE, 12, ddof=ddof)
    assert max_z(variance, law.variance / scale) < LAW_Z
    assert max_z(offset, law.mean_deviation**2) < LAW_Z
    whole_pool = mle_moments(truth, Scenario.accumulating(20, 20), 12, ddof=ddof)
    other = mle_moments(truth, SUBSAMPLE, 12, ddof=1 - ddof)
    assert max_z(variance, whole_pool.variance / scale) > LAW_Z
    assert max_z(variance, other.variance / scale) > LAW_Z


@pytest.mark.parametrize(
    "scenario, ddof",
    [
        (Scenario.accumulating(12, 12), 0),
        (Scenario.accumulating(12, 8, real=4), 0),
        (Scenario.mixed(12, 0.5), 1),
        (Scenario.accumulating(12, 12, fit_size=8), 1),
    ],
    ids=["accumulate", "accumulate-real", "mixed-unbiased", "subsample-unbiased"],
)
def test_the_first_moment_laws_hold_in_three_dimensions(scenario, ddof):
    truth = standard_truth("gaussian_3d")
    result = run_loop(truth, GaussianMLE(ddof=ddof), scenario, 10, seed=4, replicates=2000, execution=NO_TV)
    precision = np.linalg.inv(truth.covariances[0])
    whitened = np.einsum("ij,rgji->rg", precision, result.parameters["covariance"]) / 3
    law = mle_moments(truth, scenario, 10, ddof=ddof)
    assert max_z(whitened, np.einsum("ij,gji->g", precision, law.covariance) / 3) < LAW_Z


@pytest.mark.parametrize(
    "dim, scenario", [(3, Scenario.fully_synthetic(10)), (1, Scenario.accumulating(20, 20))], ids=["replace", "acc"]
)
@pytest.mark.parametrize("ddof", [0, 1])
def test_the_log_determinant_is_exact_where_stated_and_the_other_estimators_law_fails(dim, scenario, ddof):
    truth = standard_normal(dim)
    result = run_loop(truth, GaussianMLE(ddof=ddof), scenario, 15, seed=7, replicates=2000, execution=NO_TV)
    covariance = result.parameters["variance"][..., None, None] if dim == 1 else result.parameters["covariance"]
    log_det = np.linalg.slogdet(covariance)[1]
    law = mle_log_det(truth, scenario, 15, ddof=ddof)
    assert law.exact and max_z(log_det, law.value) < LAW_Z
    assert max_z(log_det, mle_log_det(truth, scenario, 15, ddof=1 - ddof).value) > LAW_Z


def test_elsewhere_the_log_determinant_law_is_an_upper_bound_that_the_loop_does_not_exceed():
    truth, scenario = standard_normal(2), Scenario.mixed(20, 0.5)
    law = mle_log_det(truth, scenario, 10)
    result = run_loop(truth, GaussianMLE(), scenario, 10, seed=8, replicates=2000, execution=NO_TV)
    log_det = np.linalg.slogdet(result.parameters["covariance"])[1]
    stderr = log_det.std(axis=0, ddof=1) / np.sqrt(log_det.shape[0])
    assert not law.exact and np.all(log_det.mean(axis=0) <= law.value + 3.7 * stderr)


@pytest.mark.parametrize("ddof", [0, 1])
def test_the_moments_keep_their_relative_accuracy_in_deep_collapse(ddof):
    """Fully synthetic at N = 10 over 250 generations (E sigma^2 down to 1e-11 with the MLE): the recursion against
    the closed forms (N-1)/(N-d)^(i+1) and E sigma^4 = ((N-1)(N+1)/(N-d)^2)^(i+1), to 1e-9 relative."""
    n, generations = 10, 250
    truth = standard_normal(1)
    law = mle_moments(truth, Scenario.fully_synthetic(n), generations, ddof=ddof)
    powers = np.arange(1, generations + 2)
    np.testing.assert_allclose(law.variance, ((n - 1) / (n - ddof)) ** powers, rtol=1e-9, atol=0)
    np.testing.assert_allclose(law.variance_square, ((n - 1) * (n + 1) / (n - ddof) ** 2) ** powers, rtol=1e-9)
    assert ddof == 1 or law.variance[-1] < 1e-11


# --------------------------------------------------------------------------- the peers' truths
@pytest.mark.parametrize("name", ["blobs", "moons", "circles"])
def test_the_two_dimensional_truths_integrate_to_one_and_match_their_samples(name):
    """On a grid at their own step the densities integrate to 1 (within 1e-5), and 100 000 samples binned in cells of
    0.25 agree with the densities' cell masses (chi-square, p > 1e-4); the control, the same curves with 20% more
    noise (blobs: a centre moved by 0.1), fails the same test."""
    truth = standard_truth(name)
    grid = Grid.covering(truth.bounding_box(), truth.grid_spacing)
    assert grid.integrate(grid.evaluate(truth)) == pytest.approx(1.0, abs=1e-5)
    samples = truth.sample(100_000, np.random.default_rng(11))
    control = (
        truth.smoothed(0.44 * truth.noise**2)
        if hasattr(truth, "noise")
        else GaussianMixture(truth.weights, truth.means + [[0.1, 0.0]] + 0 * truth.means, truth.covariances)
    )
    assert _goodness_of_fit(truth, samples) > 1e-4
    assert _goodness_of_fit(control, samples) < 1e-6


def _goodness_of_fit(density, samples: np.ndarray) -> float:
    """Pearson's chi-square p-value of the samples in 0.25-wide cells with expected counts >= 20 against the density's
    masses there (a 25 x 25 midpoint rule in each cell: a step of a fifth of the curves' noise)."""
    box = Box_of(samples)
    edges = [np.arange(low, high + 0.25, 0.25) for low, high in zip(box[0], box[1])]
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=edges)
    offsets = (np.arange(25) + 0.5) / 25 * 0.25
    xs = (edges[0][:-1, None] + offsets).ravel()
    ys = (edges[1][:-1, None] + offsets).ravel()
    mesh = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    values = density.pdf(mesh).reshape(len(edges[0]) - 1, 25, len(edges[1]) - 1, 25)
    masses = values.sum(axis=(1, 3)) * (0.25 / 25) ** 2
    expected = masses * len(samples)
    kept = expected >= 20
    statistic = np.sum((counts[kept] - expected[kept]) ** 2 / expected[kept])
    return float(stats.chi2.sf(statistic, kept.sum() - 1))


def Box_of(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.floor(samples.min(axis=0) * 4) / 4, np.ceil(samples.max(axis=0) * 4) / 4


def test_the_swiss_roll_density_integrates_to_one_and_matches_its_samples():
    """Its (x, z) density at y = 10.5 (where the y factor is 1/21 to 1e-300) integrates to 1 in polar coordinates (a
    trapezoid rule at an eighth of the noise in radius and angle: the ridge crosses the grid's axes at a slant, and a
    fifth aliases to 3e-5); the density
    with 20% more noise is rejected by a likelihood ratio on 20 000 samples (the control a wrong density fails)."""
    truth = standard_truth("swiss_roll")
    step = truth.noise / 8
    radius = np.arange(4.0, 15.0, step) + step / 2
    angle = np.linspace(0, 2 * np.pi, int(np.ceil(2 * np.pi / step)), endpoint=False)
    r, a = (grid.ravel() for grid in np.meshgrid(radius, angle, indexing="ij"))
    near = np.abs(np.remainder(r - a + np.pi, 2 * np.pi) - np.pi) < 10 * truth.noise  # off the ridge: below e^-50
    r, a = r[near], a[near]
    points = np.stack([r * np.cos(a), np.full(r.size, 10.5), r * np.sin(a)], axis=1)
    total = np.sum(truth.pdf(points) * 21 * r) * step * (2 * np.pi / angle.size)
    assert total == pytest.approx(1.0, abs=1e-6)
    samples = truth.sample(20_000, np.random.default_rng(2))
    blurred = type(truth)(noise=1.2 * truth.noise)
    ratio = truth.logpdf(samples) - blurred.logpdf(samples)
    assert ratio.mean() - 4 * ratio.std(ddof=1) / np.sqrt(ratio.size) > 0


# --------------------------------------------------------------------------- measures
def test_the_held_out_nll_is_the_cross_entropy_of_the_fit():
    """A model that ignores its data and returns a fixed Gaussian q: the NLL of held-out truth samples has mean the
    cross-entropy H(p0, q) in closed form (z < 4 over 300 replicates of 1 000 test points); a wrong closed form (q's
    own entropy) is rejected; a collapsed fit scores +inf."""

    class Fixed:
        def fit(self, data, rng):
            return GaussianMixture([1.0], [[0.5, -0.2]], np.diag([2.0, 0.5])[None])

    truth = standard_normal(2)
    result = run_loop(truth, Fixed(), Scenario.fully_synthetic(50), 1, seed=1, replicates=300, measures=["nll"])
    covariance, offset = np.diag([2.0, 0.5]), np.array([0.5, -0.2])
    precision = np.linalg.inv(covariance)
    cross = 0.5 * (np.log(np.linalg.det(2 * np.pi * covariance)) + np.trace(precision) + offset @ precision @ offset)
    samples = result.nll[:, 0]
    stderr = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - cross) < 4 * stderr
    own_entropy = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * covariance))
    assert abs(samples.mean() - own_entropy) > 4 * stderr
    collapsed = run_loop(truth, GaussianMLE(), Scenario.fully_synthetic(2), 1, replicates=2, measures=["nll"])
    assert np.all(np.isinf(collapsed.nll))


def test_total_collapse_of_the_categorical_loop_follows_its_law_and_its_mean_time():
    """K = N = 10, uniform, fully synthetic: the share of replicates whose fit is a point mass against the exact
    probability (binomial, every generation), and the mean generation of total collapse (the peer plots about 17)."""
    probabilities = np.full(10, 0.1)
    result = run_loop(
        Categorical(probabilities),
        CategoricalMLE(10),
        Scenario.fully_synthetic(10),
        40,
        seed=2,
        replicates=2000,
        measures=["total_collapse"],
    )
    law = categorical_law(probabilities, Scenario.fully_synthetic(10), 40).collapse_probability
    counts = result.total_collapse.sum(axis=0)
    p_values = np.minimum(1, 2 * np.minimum(stats.binom.cdf(counts, 2000, law), stats.binom.sf(counts - 1, 2000, law)))
    assert p_values.min() > 1e-3 / len(law)
    wrong = categorical_law(probabilities, Scenario.fully_synthetic(12), 40).collapse_probability
    wrong_p = np.minimum(
        1, 2 * np.minimum(stats.binom.cdf(counts, 2000, wrong), stats.binom.sf(counts - 1, 2000, wrong))
    )
    assert wrong_p.min() < 1e-3 / len(law)
    mean, tail = categorical_collapse_time(probabilities, 10, 300)
    assert 15 < mean < 18 and tail < 1e-9
