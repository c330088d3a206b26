"""The second-moment bound: its mean and variance recursion against simulation, its quadrature, its symbolic form.

The statistical property (the bound and Jensen's lower bound against replicate
TVs over Hypothesis settings, with negative controls) lives in
tests/test_properties.py with the other bound properties.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from selfloop.bounds import KDEMoments, kde_second_moment_bound_for, kde_second_moment_terms, registered_bounds
from selfloop.bounds.second_moment import variance_closed_form
from selfloop.simulators import KDE, Execution, GaussianMixture, PowerRule, Probes, Scenario, run_loop, standard_truth

NO_TV = Execution(measure_tv=False)

#: |z| above which a moment disagrees with simulation (Bonferroni over the probes, generations and cases).
Z_LIMIT = 4.5


class WithoutResamplingCorrection(KDEMoments):
    """A deliberately wrong recursion: a = (1 - lambda)^2, forgetting that the synthetic points' variance contains the previous fit's."""

    @staticmethod
    def resampling_factor(synthetic, size):
        return (synthetic / size) ** 2


def moment_z_scores(probes: np.ndarray, mean: np.ndarray, variance: np.ndarray, spacing: float | None = None):
    """z-scores of the replicate mean and variance of p̂_i(x) (replicates, G + 1, n) against exact values.

    Pointwise: the mean's standard error is sqrt(var/R); the sample variance's is
    from the fourth central moment. Both are compared only where the mean density
    is at least 1e-3: in the far tails p̂(x) is driven by rare nearby points, its
    sample variance misses them, and the normal approximation of the z-score fails
    (measured: z = -12 at x = 5, where p0 = 1.3e-5). Integrated (with ``spacing``): the per-replicate
    integral of the squared deviation estimates int V, with its own standard error.
    """
    replicates = probes.shape[0]
    centred = probes - probes.mean(axis=0)
    sample_variance = (centred**2).sum(axis=0) / (replicates - 1)
    supported = mean >= 1e-3
    z_mean = np.where(supported, (probes.mean(axis=0) - mean) / np.sqrt(sample_variance / replicates), 0.0)
    variance_error = np.sqrt(((centred**2 - sample_variance) ** 2).mean(axis=0) / replicates)
    z_variance = np.where(supported, (sample_variance - variance) / variance_error, 0.0)
    out = {"mean": z_mean, "variance": z_variance}
    if spacing is not None:
        integrated = (centred**2).sum(axis=-1) * spacing * replicates / (replicates - 1)  # (R, G + 1)
        exact = variance.sum(axis=-1) * spacing
        out["integrated"] = (integrated.mean(axis=0) - exact) / (integrated.std(axis=0, ddof=1) / np.sqrt(replicates))
    return out


ONE_D_CASES = {
    "fully_synthetic": (Scenario.fully_synthetic(200), 0.3),
    "mixed_fresh": (Scenario.mixed(200, 0.5), 0.3),
    "growing_synthetic": (Scenario.growing_synthetic(100, 300), 0.3),
    "accumulate": (Scenario.accumulating(200, 100, real=40), 0.3),
    "varying_bandwidth": (Scenario.growing_synthetic(150, 450), PowerRule(0.9)),
}


@pytest.mark.parametrize("case", sorted(ONE_D_CASES))
def test_mean_and_variance_match_the_simulated_loop_in_1d(case):
    """1-D, 1000 replicates, 4 generations: mu_i and V_i agree with the replicate mean and variance at 41 points and integrated."""
    scenario, bandwidth = ONE_D_CASES[case]
    truth = standard_truth("bimodal_1d")
    grid = np.linspace(-5, 5, 41)[:, None]
    schedule = bandwidth.scale * scenario.training_sizes(4) ** -0.2 if isinstance(bandwidth, PowerRule) else bandwidth
    mean, variance = KDEMoments(truth, schedule, scenario, 4).evaluate(grid)
    probes = run_loop(
        truth, KDE(bandwidth), scenario, 4, seed=11, replicates=1000, measures=[Probes(grid)], execution=NO_TV
    ).probes
    z = moment_z_scores(probes, mean, variance, spacing=0.25)
    print(case, {name: float(np.abs(values).max().round(2)) for name, values in z.items()})
    for name, values in z.items():
        assert np.all(np.abs(values) < Z_LIMIT), (name, values)


@pytest.mark.parametrize("real_fraction", [0.0, 0.5])
def test_mean_and_variance_match_the_simulated_loop_in_2d(real_fraction):
    """2-D (two anisotropic modes), 600 replicates, 3 generations, 25 probes: mu_i and V_i agree with simulation."""
    truth = GaussianMixture([0.4, 0.6], [[-1.5, 0.0], [1.5, 0.5]], [np.diag([0.5, 0.3]), np.diag([0.3, 0.6])])
    scenario = Scenario.mixed(200, real_fraction) if real_fraction else Scenario.fully_synthetic(200)
    axis = np.linspace(-3, 3, 5)
    points = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    mean, variance = KDEMoments(truth, 0.4, scenario, 3).evaluate(points)
    probes = run_loop(
        truth, KDE(0.4), scenario, 3, seed=12, replicates=600, measures=[Probes(points)], execution=NO_TV
    ).probes
    z = moment_z_scores(probes, mean, variance)
    print(real_fraction, {name: float(np.abs(values).max().round(2)) for name, values in z.items()})
    for values in z.values():
        assert np.all(np.abs(values) < Z_LIMIT)


def test_negative_controls_of_the_variance_are_rejected():
    """The same comparison rejects V_i halved, and the recursion without its (1 - 1/s) factor at N = 50, lambda = 0."""
    truth, scenario = standard_truth("bimodal_1d"), Scenario.fully_synthetic(50)
    grid = np.linspace(-5, 5, 41)[:, None]
    probes = run_loop(
        truth, KDE(0.3), scenario, 8, seed=13, replicates=1000, measures=[Probes(grid)], execution=NO_TV
    ).probes
    mean, variance = KDEMoments(truth, 0.3, scenario, 8).evaluate(grid)
    assert np.all(np.abs(moment_z_scores(probes, mean, variance, 0.25)["integrated"]) < Z_LIMIT)
    halved = moment_z_scores(probes, mean, variance / 2, 0.25)["integrated"]
    _, wrong = WithoutResamplingCorrection(truth, 0.3, scenario, 8).evaluate(grid)
    uncorrected = moment_z_scores(probes, mean, wrong, 0.25)["integrated"]
    print("halved", halved.round(1), "without (1 - 1/s)", uncorrected.round(1))
    assert halved.max() > Z_LIMIT
    assert abs(uncorrected[-1]) > Z_LIMIT


@pytest.mark.parametrize(
    "truth_name, bandwidth, scenario",
    [
        ("bimodal_1d", 0.6, Scenario.fully_synthetic(500)),
        ("bimodal_1d", 0.15, Scenario.mixed(2000, 0.2)),
        ("skewed_1d", 0.3, Scenario.accumulating(300, 150)),
        ("ring_2d", 0.3, Scenario.mixed(500, 0.5)),
    ],
)
def test_quadrature_domain_and_step_do_not_move_the_bound(truth_name, bandwidth, scenario):
    """Widening the box by 50% or halving the step changes the bound by < 1e-6 relative (sqrt(V) has sqrt(2)-wider tails)."""
    truth = standard_truth(truth_name)
    generations = 10 if truth.dim == 1 else 4
    base = kde_second_moment_bound_for(truth, bandwidth, scenario, generations)
    wide = kde_second_moment_bound_for(truth, bandwidth, scenario, generations, domain_scale=1.5)
    fine = kde_second_moment_bound_for(truth, bandwidth, scenario, generations, spacing_scale=0.5)
    assert np.max(np.abs(wide / base - 1)) < 1e-6
    assert np.max(np.abs(fine / base - 1)) < 1e-6


def test_a_domain_chosen_from_the_mean_alone_truncates_the_bound():
    """Negative control of the domain rule: a box from mu's tails (no doubling) loses mass of sqrt(V) at large h."""
    truth, scenario = standard_truth("bimodal_1d"), Scenario.fully_synthetic(500)
    base = kde_second_moment_bound_for(truth, 0.6, scenario, 10)
    narrow = kde_second_moment_bound_for(truth, 0.6, scenario, 10, domain_scale=1 / np.sqrt(2) * 0.75)
    # Truncating the integrand can only lower the bound; at early generations the two domains hold the same
    # mass to rounding, so the order is checked to 1e-12 relative (the values are about 0.17).
    assert np.all(narrow <= base * (1 + 1e-12)) and np.max(base - narrow) > 1e-6


def test_sandwich_orders_lower_folded_upper():
    """TV(mu_i, p0) <= folded-normal estimate <= bound, every generation (pointwise E|Y| lies between |E Y| and sqrt(E Y^2))."""
    terms = kde_second_moment_terms(standard_truth("skewed_1d"), 0.3, Scenario.mixed(400, 0.3), 8)
    assert np.all(terms.lower <= terms.folded_normal + 1e-12) and np.all(terms.folded_normal <= terms.upper + 1e-12)


def test_closed_form_equals_the_recursion():
    """The registered closed form of V_i, with Psi evaluated numerically, equals KDEMoments at generation 3."""
    truth, scenario, bandwidth, generation = standard_truth("bimodal_1d"), Scenario.mixed(300, 0.4), 0.3, 3
    points = np.array([[-2.0], [0.3], [2.2]])
    moments = KDEMoments(truth, bandwidth, scenario, generation)
    means = moments.means

    def psi(t, density, x):
        smoothed_half, smoothed = density.smoothed(t / 2).to_mixture(), density.smoothed(t).to_mixture()
        return (4 * np.pi * t) ** -0.5 * smoothed_half.pdf(x) - smoothed.pdf(x) ** 2

    equation = variance_closed_form()
    a = (scenario.synthetic**2 - scenario.synthetic) / scenario.size**2
    expr = equation.rhs.subs({sp.Symbol("a", nonnegative=True): a}).doit()
    from selfloop.bounds import symbols as s

    expr = expr.subs(
        {
            s.generation: generation,
            s.bandwidth: bandwidth,
            s.size: scenario.size,
            s.initial_size: scenario.initial,
            s.real: scenario.real,
            s.synthetic: scenario.synthetic,
        }
    ).doit()
    p0 = sp.Symbol("p_0")
    calls = sorted(expr.atoms(sp.Function), key=str)
    values = []
    for call in calls:  # each Psi(t, q) evaluated at all points at once
        t, source = float(call.args[0]), call.args[1]
        density = type(means[0])(truth) if source == p0 else moments.means[int(source.indices[0])]
        values.append(psi(t, density, points))
    placeholders = sp.symbols(f"psi0:{len(calls)}")
    closed = sp.lambdify(placeholders, expr.subs(dict(zip(calls, placeholders))), "numpy")(*values)
    np.testing.assert_allclose(closed, moments.variance(generation, points), rtol=1e-9)


def test_the_bound_is_registered_with_provenance_and_a_reused_pool_is_refused():
    bound = registered_bounds()["kde_second_moment"]
    assert bound.source.status == "rigorous" and "beyond the paper" in bound.source.theorem
    assert "V" in str(bound.metadata["variance"])
    with pytest.raises(ValueError, match="scenario"):
        kde_second_moment_bound_for(standard_truth("bimodal_1d"), 0.3, Scenario.mixed(400, 0.5, reuse_real=True), 3)


@pytest.mark.slow
def test_monte_carlo_bound_in_three_dimensions_holds_against_simulation():
    """d = 3: the importance-sampled bound (+3 se) exceeds, and the lower bound (-3 se) stays below, the simulated mean TV."""
    truth = GaussianMixture.isotropic([0.5, 0.5], [[-1.5, 0, 0], [1.5, 0, 0]], [0.5, 0.5])
    scenario = Scenario.mixed(300, 0.5)
    terms = kde_second_moment_terms(truth, 0.5, scenario, 2, samples=100_000)
    result = run_loop(truth, KDE(0.5), scenario, 2, seed=3, replicates=20)
    mean, stderr = result.tv.mean(axis=0), result.tv.std(axis=0, ddof=1) / np.sqrt(20)
    print("d = 3: lower", terms.lower.round(4), "mean", mean.round(4), "upper", terms.upper.round(4))
    assert np.all(terms.upper > mean - 3 * stderr) and np.all(terms.lower < mean + 3 * stderr)
