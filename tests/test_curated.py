"""Curated loops (Ferbach et al.): the curated law against brute force, the sampler against the law, the one-step law,
the exact chain and the reward's rise, each against simulation on settings no suite uses, with a wrong law (or a
reversed reward) that the same test rejects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfloop.bounds import (
    categorical_moments,
    curated_count_law,
    curated_law,
    curated_probabilities,
    reward_maximal,
)
from selfloop.bounds.curated import quadrature_relative_error
from selfloop.reports.cells import CellSpec
from selfloop.reports.claims import CLAIMS, Cell
from selfloop.reports.claims.curated import pooled_z
from selfloop.reports.sweep import run_cell
from selfloop.reports.verdicts import ALPHA, LAW_Z, binomial_p_values, replicate_sum_p_values
from selfloop.simulators import (
    Categorical,
    CategoricalMLE,
    Curated,
    Execution,
    GaussianMixture,
    GaussianMLE,
    Scenario,
    run_loop,
)

NO_TV = Execution(measure_tv=False)


def brute_force(p: np.ndarray, reward: np.ndarray, choices: int) -> np.ndarray:
    """H_p(x) = K p(x) E[e^{r(x)} / (e^{r(x)} + sum_{i<K} e^{r(X_i)})], the expectation over every tuple of K - 1
    symbols."""
    weights, out = np.exp(reward), np.zeros(p.size)
    for others in itertools.product(range(p.size), repeat=choices - 1):
        probability = np.prod(p[list(others)]) if others else 1.0
        out += probability * weights / (weights + weights[list(others)].sum())
    return choices * p * out


@pytest.mark.parametrize("choices", [1, 2, 3, 5])
@pytest.mark.parametrize("symbols", [2, 3, 4])
def test_the_curated_law_is_the_brute_force_expectation(choices, symbols):
    rng = np.random.default_rng(10 * choices + symbols)
    for _ in range(5):
        p, reward = rng.dirichlet(np.ones(symbols) * 0.7), rng.normal(0.0, 3.0, symbols)
        assert np.max(np.abs(curated_probabilities(p, reward, choices) - brute_force(p, reward, choices))) < 1e-13


def test_the_quadrature_is_exact_to_rounding_over_every_rate_it_meets():
    """Every exponential e^{-at} with a over twenty decades integrates to 1/a within 1e-14 relative: the bound on the
    curated law's relative error (its integrand a positive combination of them)."""
    assert quadrature_relative_error(1e-10, 10.0, points=20001) < 1e-14
    p, reward = np.array([0.5, 0.5]), np.array([0.0, 20.0])  # rates e^{-20}..2: the extreme preference
    assert curated_probabilities(p, reward, 2) == pytest.approx(brute_force(p, reward, 2), rel=1e-13, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6),
    st.lists(st.floats(-4.0, 4.0), min_size=6, max_size=6),
    st.integers(2, 6),
)
def test_curation_never_lowers_the_expected_reward_and_a_constant_reward_changes_nothing(weights, rewards, choices):
    p = np.asarray(weights) / np.sum(weights)
    reward = np.asarray(rewards[: p.size])
    curated = curated_probabilities(p, reward, choices)
    assert curated @ reward >= p @ reward - 1e-12 * (1 + np.abs(reward).max())
    assert curated_probabilities(p, -reward, choices) @ reward <= p @ reward + 1e-12 * (1 + np.abs(reward).max())
    assert np.allclose(curated_probabilities(p, np.full(p.size, 1.7), choices), p, atol=1e-14)


def test_the_recursion_goes_to_the_best_symbols_alone_and_to_its_fixed_point_with_real_data():
    p0, reward = np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 1.0])
    alone = curated_law(p0, reward, 3, 0.0, 60)
    assert np.all(np.diff(alone.reward) >= -1e-12)
    assert alone.probabilities[-1] == pytest.approx([0.5 / 0.7, 0.0, 0.2 / 0.7], abs=1e-9)
    assert reward_maximal(p0, reward) == pytest.approx([0.5 / 0.7, 0.0, 0.2 / 0.7])
    mixed = curated_law(p0, reward, 3, 0.3, 10)
    star = mixed.fixed_point
    assert 0.3 * p0 + 0.7 * curated_probabilities(star, reward, 3) == pytest.approx(star, abs=1e-12)
    assert 0 < star[1] < p0[1]  # between p0 and the reward-maximal point


def test_the_sampler_draws_the_curated_law_and_not_a_law_with_one_choice_fewer():
    """200 000 curated draws from a fixed law: each symbol's count against H_p (exact binomial tests, Bonferroni), and
    against H_p with K - 1 choices, which the same tests reject."""
    law, reward, choices, draws = Categorical([0.4, 0.35, 0.15, 0.1]), np.array([0.0, -1.0, 1.5, 0.5]), 3, 200_000
    model = Curated(CategoricalMLE(4), reward, choices)
    sample = model.sample_batch([law], draws, [np.random.default_rng(3)])[0][:, 0]
    counts = np.bincount(sample, minlength=4)
    right = binomial_p_values(counts, draws, curated_probabilities(law.probabilities, reward, choices))
    wrong = binomial_p_values(counts, draws, curated_probabilities(law.probabilities, reward, choices - 1))
    assert right.min() * 4 >= ALPHA
    assert wrong.min() * 4 < ALPHA


def test_a_batch_of_fits_draws_what_each_draws_alone():
    model = Curated(CategoricalMLE(3), [0.0, 1.0, 2.0], 4)
    fits = [Categorical(p) for p in ([0.2, 0.3, 0.5], [0.6, 0.4, 0.0], [1.0, 0.0, 0.0])]
    together = model.sample_batch(fits, 50, [np.random.default_rng(seed) for seed in range(3)])
    for seed, fit in enumerate(fits):
        assert np.array_equal(together[seed], model.sample_batch([fit], 50, [np.random.default_rng(seed)])[0])


def one_step_z(fits: np.ndarray, p0: np.ndarray, reward, choices: int, scenario: Scenario) -> float:
    curated = curated_probabilities(fits[:, :-1], reward, choices)
    real, synthetic, size = scenario.real, scenario.synthetic, scenario.size
    expected = (real * p0 + synthetic * curated) / size
    variance = (real * p0 * (1 - p0) + synthetic * curated * (1 - curated)) / size**2
    return float(pooled_z((fits[:, 1:] - expected).sum(axis=0), variance.sum(axis=0), size).max())


@pytest.mark.parametrize(
    "scenario, choices", [(Scenario.mixed(50, 0.25), 4), (Scenario.fully_synthetic(40), 2)], ids=["mixed", "synthetic"]
)
def test_each_fit_given_the_last_follows_the_curated_law_and_the_uncurated_law_fails(scenario, choices):
    """The six-symbol die, a reward on its symbols: given each fit, the next one's mean is (r p0 + s H) / N; the
    uncurated law (r p0 + s p) / N, tested the same way, is rejected."""
    truth, reward = Categorical([0.3, 0.2, 0.15, 0.15, 0.1, 0.1]), np.array([0.0, 0.5, -0.5, 1.0, 0.0, 2.0])
    result = run_loop(
        truth, Curated(CategoricalMLE(6), reward, choices), scenario, 12, seed=5, replicates=400, execution=NO_TV
    )
    fits = result.parameters["probabilities"]
    assert one_step_z(fits, truth.probabilities, reward, choices, scenario) < LAW_Z
    assert one_step_z(fits, truth.probabilities, reward, 1, scenario) > LAW_Z


def test_the_loop_follows_the_exact_chain_and_not_the_uncurated_one():
    """p0 = (0.2, 0.3, 0.5), the reward favouring the rarest symbol, K = 3, 20 points a generation, fully synthetic:
    every generation's total counts over 1 000 replicates against the exact chain (exact tests, Bonferroni); the
    uncurated chain (K = 1) is rejected by the same tests."""
    p0, reward, generations, replicates = np.array([0.2, 0.3, 0.5]), np.array([1.0, 0.0, -1.0]), 10, 1000
    scenario = Scenario.fully_synthetic(20)
    model = Curated(CategoricalMLE(3), reward, 3)
    fits = run_loop(Categorical(p0), model, scenario, generations, seed=11, replicates=replicates, execution=NO_TV)
    counts = np.rint(fits.parameters["probabilities"] * 20).sum(axis=0)
    for choices, holds in ((3, True), (1, False)):
        law = curated_count_law(p0, reward, choices, scenario, generations)
        p_values = replicate_sum_p_values(law.counts, replicates, counts)
        assert bool(p_values.min() * p_values.size >= ALPHA) == holds


def test_the_chain_without_curation_is_the_categorical_law_and_the_recursion_is_its_large_sample_limit():
    p0, reward = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 2.0])
    mixed = Scenario.mixed(24, 0.25)
    plain = curated_count_law(p0, reward, 1, mixed, 5)
    first, second = categorical_moments(p0, mixed, 5)
    assert np.max(np.abs(plain.mean - first)) < 1e-13
    assert np.max(np.abs(plain.variance - (second - first**2))) < 1e-13
    recursion = curated_law(p0, reward, 2, 0.5, 8).reward
    gaps = [
        np.max(np.abs(curated_count_law(p0, reward, 2, Scenario.mixed(size, 0.5), 8).reward_mean - recursion))
        for size in (10, 20, 40)
    ]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[1] / gaps[2] == pytest.approx(2.0, rel=0.2)  # O(1/N)


def test_the_claim_holds_on_a_curated_loop_and_its_reward_test_rejects_a_loop_curated_the_other_way():
    model = {"name": "curated", "model": {"name": "categorical_mle", "symbols": 3}, "reward": [0, 1, 2], "choices": 2}
    spec = {
        "kind": "loop",
        "model": model,
        "truth": "three_symbols",
        "scenario": {"kind": "fully_synthetic", "size": 25},
        "generations": 8,
        "replicates": 300,
    }
    claim = CLAIMS["curated"]
    verdicts = run_cell(spec, 4).claims["curated"].verdicts
    assert {name: verdict["outcome"] for name, verdict in verdicts.items()} == dict.fromkeys(
        ("one_step", "mean", "reward_rises"), "held"
    )
    assert verdicts["reward_rises"]["detectable_decrease"] < 0.2
    # the control: the fits of the loop curated by -r, judged by r (their increments fall; r·H(p) >= r·p stays true)
    truth, reversed_model = Categorical([0.5, 0.3, 0.2]), Curated(CategoricalMLE(3), [0.0, -1.0, -2.0], 2)
    result = run_loop(truth, reversed_model, Scenario.fully_synthetic(25), 8, seed=4, replicates=300, execution=NO_TV)
    control = Cell(CellSpec.from_dict(spec), None, result.real_fraction, result.training_size, dict(result.measured))
    control.truth = truth
    judged = claim.decide(claim.evaluate(control), control)
    assert judged["reward_rises"]["outcome"] == "refuted"
    assert judged["one_step"]["outcome"] == "refuted"


def test_curation_wraps_a_continuous_model_and_raises_its_reward():
    """A Gaussian fitted by maximum likelihood, curated by r(x) = x with K = 4: the fitted mean rises a generation at
    a time (the Bradley-Terry choice tilts every draw towards larger x)."""
    truth = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    model = Curated(GaussianMLE(), lambda x: x[:, 0], 4)
    result = run_loop(truth, model, Scenario.fully_synthetic(200), 4, seed=2, replicates=20, execution=NO_TV)
    means = result.parameters["mean"].reshape(20, 5).mean(axis=0)
    assert np.all(np.diff(means) > 0.3)


def test_bad_input_is_refused_with_its_name():
    with pytest.raises(TypeError, match="model"):
        Curated(None, [0.0, 1.0])
    with pytest.raises(ValueError, match="reward"):
        Curated(CategoricalMLE(2), [0.0, np.nan])
    with pytest.raises(ValueError, match="choices"):
        Curated(CategoricalMLE(2), [0.0, 1.0], 0)
    with pytest.raises(ValueError, match="reward"):
        Curated(CategoricalMLE(3), lambda x: x[:2, 0]).reward(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="reward"):
        curated_probabilities([0.5, 0.5], [0.0, 1.0, 2.0], 2)
    with pytest.raises(ValueError, match="real_fraction"):
        curated_law([0.5, 0.5], [0.0, 1.0], 2, 1.5, 3)
    with pytest.raises(ValueError, match="scenario"):
        curated_count_law([0.5, 0.5], [0.0, 1.0], 2, Scenario.accumulating(10, 10), 3)
    with pytest.raises(ValueError, match="MAX_STATES"):
        curated_count_law(np.full(6, 1 / 6), np.zeros(6), 2, Scenario.fully_synthetic(100), 1)
