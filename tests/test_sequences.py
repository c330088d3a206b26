"""Markov chains of tokens and their bigram fit: laws against brute-force enumeration, the fit's counts and its rule for
unseen contexts, TV exact and by Monte Carlo, and the chain rule per run with its controls."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from selfloop.simulators import BigramMLE, MarkovChain, Scenario, run_loop, standard_truth, tv, tv_monte_carlo
from selfloop.simulators.discrete_measures import token_errors

TRUTH = standard_truth("markov_4x6")


def brute_force(chain: MarkovChain) -> np.ndarray:
    """Every sequence's probability by the product formula, in lexicographic order."""
    table = []
    for sequence in product(range(chain.symbols), repeat=chain.length):
        probability = chain.initial[sequence[0]]
        for before, after in zip(sequence, sequence[1:]):
            probability *= chain.transition[before, after]
        table.append(probability)
    return np.array(table)


def test_the_enumerated_law_is_the_product_formula_and_sums_to_one():
    table = TRUTH.support_probabilities()
    np.testing.assert_allclose(table, brute_force(TRUTH), rtol=1e-13, atol=0)
    assert table.sum() == pytest.approx(1.0, abs=1e-13)
    sequences = np.array(list(product(range(4), repeat=6)))
    np.testing.assert_allclose(TRUTH.pmf(sequences), table, rtol=1e-13, atol=0)
    assert TRUTH.logpdf([[0, 0, 0, 0, 0, 9]])[0] == -np.inf  # not a sequence of its symbols
    marginal = np.array([TRUTH.marginals()[t] for t in range(6)])
    draws = TRUTH.sample(20_000, np.random.default_rng(0))
    frequencies = np.array([np.bincount(draws[:, t], minlength=4) / 20_000 for t in range(6)])
    assert np.abs(frequencies - marginal).max() < 5 * np.sqrt(0.25 / 20_000)


def test_the_entropy_is_that_of_the_enumerated_law():
    table = TRUTH.support_probabilities()
    assert TRUTH.entropy() == pytest.approx(-(table[table > 0] @ np.log(table[table > 0])), rel=1e-12)


def test_two_chains_tv_is_exact_by_enumeration_and_unbiased_by_monte_carlo_when_too_long():
    other = MarkovChain([0.25] * 4, np.full((4, 4), 0.25), 6)
    exact, error = tv(TRUTH, other)
    assert error == 0.0 and exact == pytest.approx(
        0.5 * np.abs(brute_force(TRUTH) - brute_force(other)).sum(), abs=1e-14
    )
    long_truth = MarkovChain(TRUTH.initial, TRUTH.transition, 12)  # 4^12 > 2^22 is not listed: Monte Carlo
    long_other = MarkovChain(other.initial, other.transition, 12)
    with pytest.raises(ValueError, match="too many to list"):
        long_truth.support_probabilities()
    estimate, stderr = tv(long_truth, long_other, rng=np.random.default_rng(1), samples=40_000)
    assert stderr > 0 and 0 <= estimate <= 1
    # the Monte Carlo route is unbiased: at length 9 (listable) it agrees with the exact sum
    short_truth, short_other = (MarkovChain(c.initial, c.transition, 9) for c in (TRUTH, other))
    drawn = tv_monte_carlo(short_truth, short_other, 40_000, np.random.default_rng(2))
    assert abs(drawn.value - tv(short_truth, short_other)[0]) < 4 * drawn.stderr


def test_the_bigram_fit_counts_transitions_and_falls_back_on_unseen_contexts():
    data = [[0, 1, 1], [0, 1, 0], [1, 1, 1]]
    fit = BigramMLE(3).fit(data)
    np.testing.assert_allclose(fit.initial, [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(fit.transition[0], [0.0, 1.0, 0.0])  # 0 -> 1 twice
    np.testing.assert_allclose(fit.transition[1], [1 / 4, 3 / 4, 0.0])  # 1 -> 1 three times, 1 -> 0 once
    np.testing.assert_allclose(fit.transition[2], [1 / 6, 5 / 6, 0.0])  # context 2 unseen: the next tokens' law
    assert fit.unseen_contexts == 1 and BigramMLE(3, smoothing=0.5).fit(data).unseen_contexts == 0
    with pytest.raises(ValueError, match="data must hold symbols in 0..2"):
        BigramMLE(3).fit([[0, 3]])
    result = run_loop(TRUTH, BigramMLE(4), Scenario.fully_synthetic(30), 4, seed=0, replicates=8)
    assert result.parameters["unseen_contexts"].shape == (8, 5)  # recorded per replicate and generation


def test_the_chain_rule_holds_on_every_run_and_its_controls_fail():
    """TV(P_hat, P) <= TV(mu_hat, mu) + sum_a w_a TV(T_hat_a, T_a) on every run; the first-token term alone and the bound
    halved both fail on some run."""
    result = run_loop(TRUTH, BigramMLE(4), Scenario.mixed(60, 0.5), 4, seed=3, replicates=12, measures=["next_token"])
    bound = result.initial_error + result.transition_error
    assert np.all(result.tv <= bound + 1e-12)
    assert np.any(result.tv > result.initial_error + 1e-6) and np.any(result.tv > bound / 2 + 1e-6)
    first, rows = token_errors(TRUTH, result.models[-1])
    assert first == pytest.approx(result.initial_error[-1, -1]) and rows == pytest.approx(
        result.transition_error[-1, -1]
    )
