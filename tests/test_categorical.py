"""The categorical loop: the model, its exact laws against simulation (settings no suite uses, each with a wrong-law
control), and its bounds (never below the exact E TV, with negative controls)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfloop.bounds import (
    categorical_law,
    categorical_loss_probability,
    categorical_moments,
    categorical_second_moment_bound,
    categorical_squared_error,
    categorical_tv_bound,
    get_bound,
)
from selfloop.reports.verdicts import LAW_Z, binomial_law_verdict, binomial_p_values
from selfloop.simulators import Categorical, CategoricalMLE, Scenario, run_loop, standard_truth, tv, zipf
from selfloop.testing import check_bound

P = np.array([0.45, 0.25, 0.15, 0.1, 0.05])  # no suite uses this law
SCENARIOS = {
    "fully_synthetic": Scenario.fully_synthetic(25),
    "mixed": Scenario.mixed(30, 0.4),
    "growing": Scenario.growing_synthetic(8, 24),
    "accumulate": Scenario.accumulating(16, 8, real=4),
}


def test_a_categorical_law_samples_integers_and_its_fit_is_the_smoothed_frequency():
    law = Categorical([0.5, 0.5, 0.0])
    draws = law.sample(1000, np.random.default_rng(0))
    assert draws.shape == (1000, 1) and draws.dtype.kind == "i" and set(np.unique(draws)) <= {0, 1}
    fit = CategoricalMLE(3, smoothing=1.0).fit([[0], [0], [1], [0]])
    np.testing.assert_allclose(fit.probabilities, [4 / 7, 2 / 7, 1 / 7], rtol=1e-15)
    assert CategoricalMLE(3).fit([[2]] * 5).probabilities.tolist() == [0.0, 0.0, 1.0]  # a point mass is a fit
    assert tv(Categorical([0.5, 0.5]), Categorical([0.2, 0.8])) == (pytest.approx(0.3, abs=1e-15), 0.0)
    assert law.logpdf([[2], [0]]).tolist() == [-np.inf, np.log(0.5)]


@pytest.mark.parametrize(
    "build, parameter",
    [
        (lambda: Categorical([0.5, 0.6]), "probabilities"),
        (lambda: Categorical([np.nan, 1.0]), "probabilities"),
        (lambda: CategoricalMLE(3, smoothing=-1.0), "smoothing"),
        (lambda: CategoricalMLE(0), "symbols"),
        (lambda: CategoricalMLE(3).fit([[0.5], [1.0]]), "data must hold integer symbols"),
        (lambda: CategoricalMLE(3).fit([[0], [3]]), "data must hold symbols in 0..2"),
        (lambda: CategoricalMLE(3).fit([[0], [np.nan]]), "data contains NaN"),
        (lambda: tv(Categorical([1.0]), standard_truth("bimodal_1d")), "model: TV between"),
        (lambda: categorical_law(P, Scenario.mixed(30, 0.5, reuse_real=True), 2), "reused real pool"),
    ],
)
def test_bad_input_names_the_parameter(build, parameter):
    with pytest.raises(ValueError, match=parameter):
        build()


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
@pytest.mark.parametrize("smoothing", [0.0, 0.5])
def test_the_exact_laws_match_the_simulated_loop_and_a_wrong_law_is_rejected(kind, smoothing):
    """Mean TV, squared error, entropy and every symbol's mean fit against the chains, |z| per generation; the law of
    a loop with 30% more points per generation is rejected by the same replicates."""
    scenario, replicates = SCENARIOS[kind], 3000
    result = run_loop(Categorical(P), CategoricalMLE(P.size, smoothing), scenario, 6, seed=11, replicates=replicates)
    fits = result.parameters["probabilities"]
    law = categorical_law(P, scenario, 6, smoothing=smoothing)

    def worst(samples, expected):
        mean, error = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(replicates)
        return float(np.max(np.abs(mean - expected) / error))

    square = np.sum((fits - P) ** 2, axis=2)
    assert worst(result.tv, law.expected_tv) < LAW_Z
    assert worst(square, law.squared_error) < LAW_Z
    assert worst(fits, law.expected_fit) < LAW_Z
    np.testing.assert_allclose(
        categorical_squared_error(P, scenario, 6, smoothing=smoothing), law.squared_error, atol=1e-13
    )
    assert law.tolerance.max() < 1e-12
    bigger = Scenario(
        real=round(1.3 * scenario.real),
        synthetic=round(1.3 * scenario.synthetic),
        initial=round(1.3 * scenario.initial),
        accumulate=scenario.accumulate,
    )
    wrong = categorical_law(P, bigger, 6, smoothing=smoothing)
    assert worst(result.tv, wrong.expected_tv) > LAW_Z  # the control: a wrong law fails at this power


def test_the_loss_probabilities_match_exact_binomial_tests_and_a_wrong_law_fails_them():
    scenario, replicates = Scenario.fully_synthetic(12), 4000
    result = run_loop(Categorical(P), CategoricalMLE(P.size), scenario, 8, seed=5, replicates=replicates)
    lost = (result.parameters["probabilities"] == 0).sum(axis=0)  # (G + 1, K): replicates that lost each symbol
    law = categorical_loss_probability(P, scenario, 8)
    events = law.size
    assert binomial_law_verdict(binomial_p_values(lost, replicates, law).min(), events)["holds"]
    wrong = categorical_loss_probability(P, Scenario.fully_synthetic(15), 8)
    assert not binomial_law_verdict(binomial_p_values(lost, replicates, wrong).min(), events)["holds"]


def test_fixation_a_symbol_counted_c_times_at_generation_zero_is_lost_for_ever_with_probability_one_minus_c_over_n():
    """Fully synthetic, the count is a martingale absorbed at 0 and N: P(lost by generation i) -> 1 - E c_0/N = 1 - p."""
    law = categorical_law(P, Scenario.fully_synthetic(10), 400)
    np.testing.assert_allclose(law.loss_probability[-1], 1 - P, atol=1e-6)
    assert np.all(np.diff(law.loss_probability, axis=0) >= -1e-15)  # lost for ever: never found again
    assert categorical_law(P, Scenario.fully_synthetic(10), 30, smoothing=0.1).loss_probability.max() == 0.0


def test_the_second_moments_hold_for_growing_sample_sizes():
    """Bakshi and Chakraborty's setting: sizes that grow with the generation, checked against a direct simulation."""
    sizes, replicates = [10, 20, 40, 80, 160], 4000
    scenario = Scenario.mixed(10, 0.2)
    mean, square = categorical_moments(P, scenario, 4, sizes=sizes)
    model, truth = CategoricalMLE(P.size), Categorical(P)
    rngs = [np.random.default_rng([3, r]) for r in range(replicates)]
    current = model.fit_batch([truth.sample(sizes[0], rng) for rng in rngs])
    fits = [[fit.probabilities for fit in current]]
    for size in sizes[1:]:  # each generation: round(0.2 N_i) real points, the rest drawn from the last fit
        real = round(0.2 * size)
        synthetic = model.sample_batch(current, size - real, rngs)
        current = model.fit_batch([np.concatenate([truth.sample(real, rng), s]) for rng, s in zip(rngs, synthetic)])
        fits.append([fit.probabilities for fit in current])
    fits = np.array(fits).swapaxes(0, 1)
    error = lambda x: x.std(axis=0, ddof=1) / np.sqrt(replicates)  # noqa: E731
    assert np.max(np.abs(fits.mean(axis=0) - mean) / error(fits)) < LAW_Z
    assert np.max(np.abs((fits**2).mean(axis=0) - square) / error(fits**2)) < LAW_Z
    with pytest.raises(ValueError, match="sizes"):
        categorical_moments(P, scenario, 4, sizes=[10, 20])


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12),
    size=st.integers(3, 60),
    fraction=st.sampled_from([0.0, 0.2, 0.5, 0.8]),
    smoothing=st.sampled_from([0.0, 0.3]),
    accumulate=st.booleans(),
)
def test_both_bounds_are_never_below_the_exact_expected_tv(weights, size, fraction, smoothing, accumulate):
    p = np.array(weights) / np.sum(weights)
    real = round(fraction * size)
    scenario = Scenario(real=real, synthetic=max(size - real, 1), initial=size, accumulate=accumulate)
    exact = categorical_law(p, scenario, 5, smoothing=smoothing).expected_tv
    assert np.all(categorical_second_moment_bound(p, scenario, 5, smoothing=smoothing) >= exact - 1e-12)
    assert np.all(categorical_tv_bound(p, scenario, 5, smoothing=smoothing) >= exact - 1e-12)


@settings(max_examples=200, deadline=None)
@given(
    atoms=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.01, 1.0)), min_size=1, max_size=6),
    p=st.floats(0.0, 1.0),
)
def test_the_per_symbol_bound_holds_for_any_law_on_the_unit_interval(atoms, p):
    """b(p, E x, E x^2) >= E|x - p| for every law of x >= 0 (its derivation assumes nothing else)."""
    values, weights = np.array([a for a, _ in atoms]), np.array([w for _, w in atoms])
    weights /= weights.sum()
    mean, square = float(weights @ values), float(weights @ values**2)
    bound = get_bound("categorical_symbol_error").evaluate(probability=p, fitted_mean=mean, fitted_square=square)
    assert bound >= float(weights @ np.abs(values - p)) - 1e-12


def test_the_second_moment_bound_is_within_one_and_a_half_of_the_exact_expected_tv_on_a_zipf_vocabulary():
    p = zipf(300, 1.1).probabilities
    for scenario in (Scenario.fully_synthetic(200), Scenario.mixed(200, 0.3), Scenario.accumulating(200, 100)):
        ratio = categorical_second_moment_bound(p, scenario, 8) / categorical_law(p, scenario, 8).expected_tv
        assert 1.0 <= ratio.min() and np.median(ratio) <= 1.5


def test_the_bound_check_refutes_a_false_bound_and_not_the_true_one():
    """The negative control: the Lemma R bound without its (1 - lambda) factor's propagation (eps_0 alone at every
    generation) and the second-moment bound halved are refuted by the loop's TVs; the true bounds are not."""
    scenario = Scenario.fully_synthetic(20)
    result = run_loop(Categorical(P), CategoricalMLE(P.size), scenario, 8, seed=2, replicates=300)
    sharp = categorical_second_moment_bound(P, scenario, 8)
    lemma = categorical_tv_bound(P, scenario, 8)
    assert not check_bound(result.tv, sharp).refuted and not check_bound(result.tv, lemma).refuted
    assert check_bound(result.tv, np.full(9, lemma[0])).refuted  # no growth with the generations
    assert check_bound(result.tv, sharp / 2).refuted
