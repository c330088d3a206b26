"""Scenarios, the loop runner, the Gaussian MLE toy, and faithfulness to the analytic expectation."""

import numpy as np
import pytest

from selfloop.simulators import (
    KDE,
    Execution,
    GaussianMixture,
    GaussianMLE,
    Probes,
    Scenario,
    expected_kde_density,
    gaussian_tv,
    run_loop,
    standard_truth,
)
from selfloop.simulators.metrics import GRID_MASS
from selfloop.simulators.protocol import OneAtATime

SCENARIOS = {
    "fully_synthetic": Scenario.fully_synthetic(300),
    "mixed_fresh": Scenario.mixed(300, 0.5),
    "mixed_reused": Scenario.mixed(300, 0.5, reuse_real=True),
    "growing_synthetic": Scenario.growing_synthetic(100, 400),
    "accumulate": Scenario.accumulating(300, 150),
}


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_every_scenario_runs_with_the_declared_sizes(kind):
    scenario = SCENARIOS[kind]
    assert scenario.kind == kind
    result = run_loop(standard_truth("bimodal_1d"), KDE(0.3), scenario, generations=4, seed=3, replicates=2)
    assert result.tv.shape == (2, 5)
    assert np.all((result.tv > 0) & (result.tv < 1))
    assert [m.data.shape[0] for m in result.models] == list(result.training_size)
    assert result.real_fraction[0] == 1.0
    np.testing.assert_allclose(result.real_fraction[1:], scenario.real_fraction, rtol=1e-15, atol=0)


def test_scenario_sizes_and_fractions():
    assert Scenario.mixed(1000, 0.25).real == 250
    assert Scenario.growing_synthetic(500, 5000).training_sizes(2).tolist() == [500, 5500, 5500]
    accumulate = Scenario.accumulating(1000, 500)
    assert accumulate.training_sizes(3).tolist() == [1000, 1500, 2000, 2500]
    np.testing.assert_allclose(accumulate.new_data_weights(3), [1, 1 / 3, 1 / 4, 1 / 5])
    assert Scenario.fully_synthetic(10).real_fraction == 0.0


@pytest.mark.parametrize(
    "build, parameter",
    [
        (lambda: Scenario.mixed(100, 1.5), "real_fraction"),
        (lambda: Scenario.mixed(100, -0.1), "real_fraction"),
        (lambda: Scenario.mixed(0, 0.5), "size"),
        (lambda: Scenario(real=-1, synthetic=10), "real"),
        (lambda: Scenario(real=0, synthetic=0), "real \\+ synthetic"),
        (lambda: Scenario(real=10, synthetic=10, initial=0), "initial"),
        (lambda: Scenario(real=10, synthetic=2.5), "synthetic"),
        (lambda: Scenario(real=10, synthetic=10, reuse_real=True, accumulate=True), "reuse_real"),
    ],
)
def test_bad_scenarios_are_named(build, parameter):
    with pytest.raises(ValueError, match=parameter):
        build()


def test_bad_run_arguments_are_named():
    truth = standard_truth("bimodal_1d")
    with pytest.raises(ValueError, match="generations"):
        run_loop(truth, KDE(0.3), Scenario.mixed(100, 0.5), generations=-1)
    with pytest.raises(ValueError, match="replicates"):
        run_loop(truth, KDE(0.3), Scenario.mixed(100, 0.5), generations=1, replicates=0)
    with pytest.raises(ValueError, match="scenario"):
        run_loop(truth, KDE(0.3), "mixed", generations=1)


def test_replicates_are_reproducible_and_independent_of_count():
    truth, scenario = standard_truth("skewed_1d"), Scenario.mixed(200, 0.3)
    three = run_loop(truth, KDE(0.25), scenario, generations=3, seed=11, replicates=3)
    five = run_loop(truth, KDE(0.25), scenario, generations=3, seed=11, replicates=5)
    np.testing.assert_allclose(
        three.tv, five.tv[:3], rtol=0, atol=GRID_MASS
    )  # batches of 3 and 5 (see the batching test)
    assert len(np.unique(five.tv[:, -1])) == 5
    other = run_loop(truth, KDE(0.25), scenario, generations=3, seed=12, replicates=3)
    assert not np.array_equal(three.tv, other.tv)


class _OpaqueKDE(KDE):
    """A KDE whose fits are evaluated one at a time (the default replicate hook), not in one batched FFT."""

    def grid_densities(self, fits, grid):
        return OneAtATime().grid_densities(fits, grid)


BATCH_CASES = [
    (standard_truth("bimodal_1d"), KDE(0.2), Scenario.mixed(300, 0.4)),
    (standard_truth("skewed_1d"), KDE("scott"), Scenario.fully_synthetic(200)),
    (standard_truth("bimodal_1d"), KDE(0.3), Scenario.mixed(250, 0.5, reuse_real=True)),
    (standard_truth("bimodal_1d"), KDE(0.3), Scenario.accumulating(150, 100)),
    (standard_truth("bimodal_1d"), KDE(0.25), Scenario.growing_synthetic(100, 300)),
    (standard_truth("ring_2d"), KDE(0.3), Scenario.mixed(200, 0.5)),
]


@pytest.mark.parametrize("case", range(len(BATCH_CASES)), ids=[f"{t.dim}d-{s.kind}" for t, _, s in BATCH_CASES])
def test_batched_replicates_equal_one_at_a_time_and_the_generic_path(case):
    """All replicates in one batch, one at a time, and through the generic per-replicate loop agree.

    The training sets are bit-for-bit the same (their points are equal, and the exact kernel sums at the
    probes agree to 1e-12 relative, the rounding of a differently ordered sum), and
    TV, the one-step error and the sampling error agree to GRID_MASS (1e-9): the batch's grid is a
    wider window of the same lattice, so what differs is the rounding of a longer FFT and the tail
    mass (below 1e-9 per density) that the wider window takes in.
    """
    truth, model, scenario = BATCH_CASES[case]
    probes = truth.sample(7, np.random.default_rng(1))
    sampling = not (scenario.accumulate or scenario.reuse_real)
    measures = ["one_step", Probes(probes)] + (["sampling_error"] if sampling else [])
    options = dict(generations=3, seed=5, replicates=6, measures=measures)
    batched = run_loop(truth, model, scenario, **options)
    alone = run_loop(truth, model, scenario, execution=Execution(chunk_replicates=1), **options)
    generic = run_loop(truth, _OpaqueKDE(model.bandwidth), scenario, **options)
    for other in (alone, generic):
        np.testing.assert_allclose(batched.probes, other.probes, rtol=1e-12, atol=0)
        np.testing.assert_allclose(batched.tv, other.tv, rtol=0, atol=GRID_MASS)
        np.testing.assert_allclose(batched.one_step, other.one_step, rtol=0, atol=GRID_MASS)
        if sampling:
            np.testing.assert_allclose(batched.sampling_error, other.sampling_error, rtol=0, atol=GRID_MASS)
        np.testing.assert_array_equal(batched.models[-1].data, other.models[-1].data)
    assert len(np.unique(batched.tv[:, -1])) == 6  # the replicates differ from one another


def test_batches_are_sized_from_the_memory_budget_without_changing_results():
    truth, scenario = standard_truth("bimodal_1d"), Scenario.mixed(400, 0.5)
    roomy = run_loop(truth, KDE(0.2), scenario, generations=2, seed=2, replicates=9)
    tight = run_loop(
        truth, KDE(0.2), scenario, generations=2, seed=2, replicates=9, execution=Execution(memory_budget_bytes=3e6)
    )
    np.testing.assert_allclose(roomy.tv, tight.tv, rtol=0, atol=GRID_MASS)
    from selfloop.simulators.execution import chunk_size

    assert (
        chunk_size(truth, KDE(0.2), scenario, 2, 3e6, 9) < 9 <= chunk_size(truth, KDE(0.2), scenario, 2, 8 * 2**30, 9)
    )


def test_chunks_follow_the_memory_budget_without_changing_results(monkeypatch):
    """The replicates run a generation at a time, in chunks of as many as half the memory budget holds; the chunking
    changes nothing (each replicate has its own streams)."""
    from selfloop.simulators import execution, loop

    truth, scenario = standard_truth("bimodal_1d"), Scenario.mixed(200, 0.5)
    chunks = []
    original = loop.run_chunk
    monkeypatch.setattr(
        loop, "run_chunk", lambda *args, **kwargs: chunks.append(len(args[1])) or original(*args, **kwargs)
    )
    roomy = run_loop(truth, GaussianMLE(), scenario, generations=3, seed=4, replicates=7)
    assert chunks == [7]
    chunks.clear()
    run_loop(truth, GaussianMLE(), scenario, generations=1, seed=4, replicates=40)
    assert chunks == [
        execution.UNSHARED_CHUNK,
        40 - execution.UNSHARED_CHUNK,
    ]  # each on its own grid: at most 32 together
    chunks.clear()
    per_replicate = execution.replicate_bytes(truth, GaussianMLE(), scenario, 3)
    tight = run_loop(
        truth,
        GaussianMLE(),
        scenario,
        generations=3,
        seed=4,
        replicates=7,
        execution=Execution(memory_budget_bytes=2 * 2.5 * per_replicate),
    )
    assert chunks == [2, 2, 2, 1]
    np.testing.assert_allclose(roomy.tv, tight.tv, rtol=1e-12, atol=0)  # the same draws; summation order may differ


def test_lemma_r_one_step_inequality_holds_for_kde_in_three_scenarios():
    r"""TV_i <= eps_i + (1 - lambda) TV_{i-1} is the triangle inequality; it must hold to quadrature error."""
    truth = standard_truth("bimodal_1d")
    for scenario in (
        Scenario.fully_synthetic(200),
        Scenario.mixed(200, 0.4),
        Scenario.mixed(200, 0.4, reuse_real=True),
    ):
        result = run_loop(truth, KDE(0.3), scenario, generations=5, seed=0, replicates=3, measures=["one_step"])
        rhs = result.one_step[:, 1:] + (1 - scenario.real_fraction) * result.tv[:, :-1]
        assert np.all(result.tv[:, 1:] <= rhs + 1e-7)
        # negative control: without the one-step error the inequality fails
        assert np.any(result.tv[:, 1:] > (1 - scenario.real_fraction) * result.tv[:, :-1] + 1e-3)


def test_gaussian_mle_collapses_under_fully_synthetic_training():
    truth = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    result = run_loop(truth, GaussianMLE(), Scenario.fully_synthetic(20), generations=60, seed=0, replicates=30)
    variances = np.array([m.covariances[0, 0, 0] for m in result.models])
    assert variances[-1] < variances[0]
    assert result.mean_tv()[-1] > result.mean_tv()[0] + 0.1
    # the closed form is what the loop measured
    last = result.models[-1]
    assert result.tv[-1, -1] == pytest.approx(
        gaussian_tv([0.0], [[1.0]], last.means[0], last.covariances[0]), rel=1e-12, abs=1e-15
    )
    mixed = run_loop(truth, GaussianMLE(), Scenario.mixed(20, 0.5), generations=60, seed=0, replicates=30)
    assert mixed.mean_tv()[-1] < result.mean_tv()[-1]


def test_gaussian_mle_rejects_collapsed_sample():
    with pytest.raises(ValueError, match="data: collapsed"):
        GaussianMLE().fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="data"):
        GaussianMLE().fit(np.zeros((1, 1)))


def _mean_kde_density_z_scores(truth, bandwidth, scenario, generations, points, replicates, expected):
    """z-scores of the replicate-average generation-i KDE density at ``points`` against ``expected(i)``."""
    values = np.zeros((replicates, generations + 1, points.shape[0]))
    for replicate in range(replicates):
        models = run_loop(truth, KDE(bandwidth), scenario, generations, seed=replicate).models
        values[replicate] = [m.pdf(points) for m in models]
    mean = values.mean(axis=0)
    stderr = values.std(axis=0, ddof=1) / np.sqrt(replicates)
    reference = np.array([expected(i).pdf(points) for i in range(generations + 1)])
    return (mean - reference) / stderr


#: two-sided z threshold: with 4 x 7 = 28 comparisons, P(any |z| > 4.5) < 28 * 6.8e-6 = 2e-4 under the null
Z_THRESHOLD = 4.5


@pytest.mark.parametrize(
    "scenario", [Scenario.fully_synthetic(150), Scenario.mixed(150, 0.4)], ids=["fully_synthetic", "mixed_fresh"]
)
def test_simulator_matches_analytic_expected_kde_density(scenario):
    r"""Averaged over replicates, p̂_i matches E p̂_i = sum_k w_k p0 * G_{k h^2} within Monte Carlo error."""
    truth, bandwidth, generations = standard_truth("bimodal_1d"), 0.35, 3
    points = np.linspace(-3.5, 3.5, 7)[:, None]
    z = _mean_kde_density_z_scores(
        truth,
        bandwidth,
        scenario,
        generations,
        points,
        300,
        lambda i: expected_kde_density(truth, bandwidth, scenario, i),
    )
    assert np.max(np.abs(z)) < Z_THRESHOLD
    # negative control: the expectation of the wrong scenario (lambda = 0.8) is rejected by the same test
    wrong = Scenario.mixed(150, 0.8)
    z_wrong = _mean_kde_density_z_scores(
        truth,
        bandwidth,
        scenario,
        generations,
        points,
        300,
        lambda i: expected_kde_density(truth, bandwidth, wrong, i),
    )
    assert np.max(np.abs(z_wrong)) > Z_THRESHOLD


def test_expected_density_weights_unrolled():
    r"""E p̂_i = sum_{k=1}^{i} lambda (1-lambda)^{k-1} p0*G_{k h^2} + (1-lambda)^i p0*G_{(i+1)h^2}."""
    truth, h, lam, i = standard_truth("skewed_1d"), 0.3, 0.35, 4
    scenario = Scenario(real=35, synthetic=65)
    x = np.linspace(-3, 6, 50)[:, None]
    unrolled = sum(lam * (1 - lam) ** (k - 1) * truth.smoothed(k * h * h).pdf(x) for k in range(1, i + 1))
    unrolled += (1 - lam) ** i * truth.smoothed((i + 1) * h * h).pdf(x)
    np.testing.assert_allclose(expected_kde_density(truth, h, scenario, i).pdf(x), unrolled, rtol=1e-12)


def test_a_loop_beyond_the_memory_budget_is_refused_up_front_with_its_estimate():
    from selfloop.simulators import KDE, Scenario, run_loop, standard_truth

    with pytest.raises(ValueError, match=r"scenario: this loop needs at least 29\.80 GiB"):
        run_loop(
            standard_truth("bimodal_1d"),
            KDE(0.3),
            Scenario.mixed(10**9, 0.5),
            1,
            execution=Execution(memory_budget_bytes=2**30),
        )


def test_a_mixed_fraction_that_rounds_away_is_refused_naming_both():
    from selfloop.simulators import Scenario

    with pytest.raises(ValueError, match="real_fraction 0.5 of size 1 rounds to 0 real and 1 synthetic"):
        Scenario.mixed(1, 0.5)
    with pytest.raises(ValueError, match="real_fraction"):
        Scenario.mixed(10, 0.99)
    assert Scenario.mixed(10, 0.0).kind == "fully_synthetic" and Scenario.mixed(10, 1.0).synthetic == 0


def test_the_built_in_models_satisfy_the_protocols():
    import numpy as np

    from selfloop.simulators import KDE, FittedDensity, GaussianMLE, GridDensity, Model, RandomFeatureDiffusion

    data = np.random.default_rng(0).normal(size=(200, 1))
    for model in (KDE(0.3), GaussianMLE(), RandomFeatureDiffusion(width=16, steps=10, noise_draws=2)):
        assert isinstance(model, Model)
        fitted = model.fit(data, np.random.default_rng(1))
        assert isinstance(fitted, FittedDensity)
    assert isinstance(KDE(0.3).fit(data), GridDensity)


@pytest.mark.parametrize(
    "scenario",
    [
        *SCENARIOS.values(),
        Scenario(real=10, synthetic=20, initial=5),
        Scenario.accumulating(300, 150, real=20),
        Scenario(real=0, synthetic=20, initial=7),
    ],
    ids=[*SCENARIOS, "custom_initial", "accumulate_with_real", "custom_fully_synthetic"],
)
def test_scenarios_round_trip_through_their_dict_form(scenario):
    import json

    document = json.loads(json.dumps(scenario.to_dict()))
    assert Scenario.from_dict(document) == scenario
    assert document["kind"] in (*Scenario.KINDS, "custom")


@pytest.mark.parametrize(
    "document, message",
    [
        ({"size": 3}, "needs a dict with a 'kind'|must be a dict with a 'kind'"),
        ({"kind": "mixed_fresh", "size": 300}, "needs the field 'real_fraction'"),
        ({"kind": "sideways"}, "kind must be one of"),
    ],
)
def test_bad_scenario_dicts_are_named(document, message):
    with pytest.raises(ValueError, match=message):
        Scenario.from_dict(document)


def test_a_loop_run_without_tv_knows_its_replicates_and_generations():
    result = run_loop(
        standard_truth("bimodal_1d"),
        GaussianMLE(),
        Scenario.mixed(50, 0.5),
        generations=4,
        seed=0,
        replicates=3,
        execution=Execution(measure_tv=False),
    )
    assert result.tv is None and (result.replicates, result.generations) == (3, 4)
    with pytest.raises(ValueError, match="measure_tv"):
        result.mean_tv()
    kde = run_loop(
        standard_truth("bimodal_1d"),
        KDE(0.3),
        Scenario.mixed(50, 0.5),
        generations=2,
        seed=0,
        replicates=2,
        execution=Execution(measure_tv=False),
    )
    assert (kde.replicates, kde.generations) == (2, 2)


@pytest.mark.parametrize("name", ["mle", "ols"])
def test_a_batch_of_fits_is_each_fit_on_its_own_bit_for_bit(name):
    """``fit_batch`` (the loop's path for a model that is :class:`BatchFitting`: the Gaussian MLE's stacked moments, the
    regression's joint Gaussians built together) gives every set the fit it gets alone, bit for bit, with sets of two
    sizes too; a collapsed or a NaN set in the batch raises a ValueError naming ``data``. Control: a set moved by
    1e-12 gets another fit, and the comparison sees it."""
    from selfloop.simulators import GaussianMLE, LinearRegression
    from selfloop.simulators.protocol import BatchFitting, fit_all

    model = GaussianMLE() if name == "mle" else LinearRegression(1.0)
    assert isinstance(model, BatchFitting)
    rng = np.random.default_rng(3)
    stored = ("weights", "means", "covariances", "_cholesky", "_whitening", "_log_det", "_cumulative")

    def same(first, second) -> bool:
        return all(np.array_equal(getattr(first, field), getattr(second, field)) for field in stored)

    for dim, sizes in ((1, [50] * 7), (3, [40] * 7), (2, [30, 30, 45, 30])):
        columns = dim + 1 if name == "ols" else dim
        sets = [rng.normal(size=(size, columns)) @ rng.normal(size=(columns, columns)) for size in sizes]
        batch = fit_all(model, sets, [rng] * len(sets))
        assert all(same(alone, batched) for alone, batched in zip((model.fit(points) for points in sets), batch))
        moved = [points.copy() for points in sets]
        moved[1][0, 0] += 1e-12
        assert not same(model.fit(moved[1]), batch[1])
    collapsed = np.zeros((20, 2))  # no spread: a singular covariance, or a singular design
    with pytest.raises(ValueError, match="data: collapsed"):
        model.fit_batch([rng.normal(size=(20, 2)), collapsed])
    with pytest.raises(ValueError, match="data contains NaN"):
        model.fit_batch([rng.normal(size=(20, 2)), np.full((20, 2), np.nan)])
