"""The field's second round of laws: weighted real data (He, Xu and Cheng) and the pi^2/6 ratio of accumulating
maximum-likelihood loops (Dey and Donoho), each law against simulation on settings no suite uses, with a wrong law
that the same test rejects."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from selfloop.bounds import (
    PI_SQUARED_OVER_6,
    categorical_squared_error,
    optimal_real_weight,
    poisson_risk,
    risk_ratio_pattern,
    weighted_mean_variance_limit,
    weighted_mle_moments,
)
from selfloop.reports.verdicts import LAW_Z
from selfloop.simulators import (
    KDE,
    Categorical,
    CategoricalMLE,
    Execution,
    GaussianMixture,
    GaussianMLE,
    LogisticLaw,
    LogisticMLE,
    Poisson,
    PoissonMLE,
    Scenario,
    poisson_tv,
    run_loop,
    tv_monte_carlo,
)

NO_TV = Execution(measure_tv=False)


def max_z(samples: np.ndarray, law: np.ndarray) -> float:
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return float(np.max(np.abs(samples.mean(axis=0) - law) / stderr))


# --------------------------------------------------------------------------- weighted real data
def test_the_optimal_weight_is_the_minimiser_of_the_limit_derived_symbolically():
    """d/dw of sigma^2 [w^2/r + (1-w)^2/s] / (1 - (1-w)^2) vanishes at w* = (sqrt(1 + 4k) - 1)/(2k), k = s/r (SymPy),
    the golden ratio's inverse at k = 1; a neighbouring weight has a larger limit."""
    w, r, s = sp.symbols("w r s", positive=True)
    limit = (w**2 / r + (1 - w) ** 2 / s) / (1 - (1 - w) ** 2)
    (root,) = sp.solve(sp.diff(limit, w), w)
    for real, synthetic in [(10, 10), (7, 30), (50, 5)]:
        assert float(root.subs({r: real, s: synthetic})) == pytest.approx(optimal_real_weight(real, synthetic), 1e-12)
        best = optimal_real_weight(real, synthetic)
        at = weighted_mean_variance_limit(real, synthetic, best)
        assert at < weighted_mean_variance_limit(real, synthetic, best * 0.97)
        assert at < weighted_mean_variance_limit(real, synthetic, min(best * 1.03, 1.0))
    assert optimal_real_weight(10, 10) == pytest.approx((np.sqrt(5) - 1) / 2, 1e-15)


@pytest.mark.parametrize(
    "known, dim, scenario",
    [(2.0, 1, Scenario.weighted(6, 14, 0.35)), (None, 2, Scenario.weighted(9, 5, 0.9, initial=12))],
    ids=["known-1d", "fitted-2d"],
)
def test_the_weighted_loop_follows_its_exact_law_and_the_unweighted_law_fails(known, dim, scenario):
    """The mean's squared error (and, fitted, the covariance's trace) against weighted_mle_moments over 3 000
    replicates; the wrong law (the same sizes, every point weighed alike) is rejected by the same test."""
    truth = GaussianMixture(
        [1.0], [np.linspace(0.5, -0.5, dim)], [2.0 * np.eye(dim) if dim == 1 else [[2.0, 0.4], [0.4, 1.0]]]
    )
    known_covariance = None if known is None else known
    model = GaussianMLE(covariance=known_covariance)
    result = run_loop(truth, model, scenario, 15, seed=5, replicates=3000, execution=NO_TV)
    mean = np.reshape(result.parameters["mean"], (3000, 16, dim)) - truth.means[0]
    error = np.sum(mean**2, axis=2)
    law = weighted_mle_moments(truth, scenario, 15, known_covariance=known_covariance)
    assert max_z(error, np.trace(law.mean_error, axis1=1, axis2=2)) < LAW_Z
    unweighted = Scenario.weighted(
        scenario.real, scenario.synthetic, scenario.real / scenario.size, initial=scenario.initial
    )
    wrong = weighted_mle_moments(truth, unweighted, 15, known_covariance=known_covariance)
    assert max_z(error, np.trace(wrong.mean_error, axis1=1, axis2=2)) > LAW_Z
    if known is None:
        covariance = np.trace(result.parameters["covariance"], axis1=2, axis2=3)
        assert max_z(covariance, np.trace(law.covariance, axis1=1, axis2=2)) < LAW_Z


def test_weights_equal_to_the_point_shares_are_the_unweighted_loop_bit_for_bit():
    truth = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    plain = run_loop(truth, GaussianMLE(), Scenario.mixed(20, 0.5), 4, seed=1, replicates=5)
    weighted = run_loop(truth, GaussianMLE(), Scenario.weighted(10, 10, 0.5, initial=20), 4, seed=1, replicates=5)
    np.testing.assert_allclose(weighted.tv, plain.tv, rtol=0, atol=1e-14)
    categorical = Categorical([0.5, 0.3, 0.2])
    plain = run_loop(categorical, CategoricalMLE(3), Scenario.mixed(20, 0.25), 4, seed=1, replicates=5)
    weighted = run_loop(
        categorical, CategoricalMLE(3), Scenario.weighted(5, 15, 0.25, initial=20), 4, seed=1, replicates=5
    )
    np.testing.assert_allclose(weighted.tv, plain.tv, rtol=0, atol=1e-14)


def test_the_simulated_optimum_is_where_the_law_puts_it():
    """Known covariance, r = s = 10, generation 12 (the limit to 1e-5): over weights 0.4, 0.618 and 0.85 the
    simulated error is smallest at 0.618, and each neighbour's excess over it is significant (paired replicates share
    nothing, so the standard errors add)."""
    truth = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    errors = {}
    for weight in (0.4, 0.618, 0.85):
        result = run_loop(
            truth,
            GaussianMLE(covariance=1.0),
            Scenario.weighted(10, 10, weight),
            12,
            seed=2,
            replicates=3000,
            execution=NO_TV,
        )
        final = result.parameters["mean"][:, -1] ** 2
        errors[weight] = (final.mean(), final.std(ddof=1) / np.sqrt(final.size))
        assert abs(errors[weight][0] - weighted_mean_variance_limit(10, 10, weight)) < LAW_Z * errors[weight][1]
    best, spread = errors[0.618]
    for weight in (0.4, 0.85):
        assert errors[weight][0] - best > 3 * np.hypot(spread, errors[weight][1])


def test_weighted_scenarios_and_models_reject_bad_input_before_work():
    with pytest.raises(ValueError, match="real_weight"):
        Scenario.weighted(10, 10, 1.5)
    with pytest.raises(ValueError, match="real_weight"):
        Scenario(real=0, synthetic=10, real_weight=0.5)
    with pytest.raises(ValueError, match="real_weight"):
        run_loop(GaussianMixture([1.0], [[0.0]], [[[1.0]]]), KDE(0.3), Scenario.weighted(10, 10, 0.5), 2)
    with pytest.raises(ValueError, match="covariance"):
        GaussianMLE(covariance=-1.0)
    assert Scenario.from_dict(Scenario.weighted(3, 4, 0.2, initial=9).to_dict()) == Scenario.weighted(
        3, 4, 0.2, initial=9
    )
    with pytest.raises(ValueError, match="weight"):
        weighted_mean_variance_limit(10, 10, -0.1)


# --------------------------------------------------------------------------- pi^2 / 6
@pytest.mark.parametrize(
    "scenario",
    [
        Scenario.fully_synthetic(15),
        Scenario.accumulating(15, 15),
        Scenario.accumulating(12, 6, real=3),
        Scenario.mixed(15, 0.4),
    ],
    ids=["replace", "accumulate", "accumulate-real", "mixed"],
)
def test_the_poisson_risk_is_exact_and_a_gaussian_law_is_rejected(scenario):
    """E (lambda_i - lambda)^2 against poisson_risk over 4 000 replicates; the control, the law of another workflow
    (replace for the others, accumulate for replace), is rejected by the same test."""
    truth = Poisson(1.7)
    result = run_loop(truth, PoissonMLE(), scenario, 10, seed=3, replicates=4000, execution=NO_TV)
    error = (result.parameters["rate"] - 1.7) ** 2
    assert max_z(error, poisson_risk(1.7, scenario, 10)) < LAW_Z
    other = Scenario.accumulating(15, 15) if scenario.kind == "fully_synthetic" else Scenario.fully_synthetic(15)
    assert max_z(error, poisson_risk(1.7, other, 10)) > LAW_Z


def test_the_accumulating_ratio_is_the_basel_sum_exactly_for_poisson_and_below_it_for_bernoulli():
    poisson = poisson_risk(2.0, Scenario.accumulating(30, 30), 40)
    np.testing.assert_allclose(poisson / poisson[0], risk_ratio_pattern("accumulate", 40), rtol=1e-13)
    assert poisson[-1] / poisson[0] < PI_SQUARED_OVER_6
    replace = poisson_risk(2.0, Scenario.fully_synthetic(30), 40)
    np.testing.assert_allclose(replace / replace[0], risk_ratio_pattern("replace", 40), rtol=1e-13)
    bernoulli = categorical_squared_error(np.array([0.7, 0.3]), Scenario.accumulating(30, 30), 40)
    ratio = bernoulli / bernoulli[0]
    assert np.all(ratio <= risk_ratio_pattern("accumulate", 40) + 1e-12) and ratio[-1] > 1.5


def test_the_logistic_loop_accumulates_below_pi_squared_over_six_and_replacing_passes_it():
    """n = 300, 6 generations, 300 replicates: the accumulating ratio's upper confidence bound stays near the pattern
    and its lower one below pi^2/6; replacing, the ratio's lower confidence bound passes pi^2/6 by generation 3."""
    truth = LogisticLaw([0.8, -0.6])
    ratios = {}
    for name, scenario in [("accumulate", Scenario.accumulating(300, 300)), ("replace", Scenario.fully_synthetic(300))]:
        result = run_loop(truth, LogisticMLE(), scenario, 6, seed=4, replicates=300, execution=NO_TV)
        error = np.sum((result.parameters["coefficients"] - truth.coefficients) ** 2, axis=2)
        ratios[name] = error.mean(axis=0) / error.mean(axis=0)[0], error
    accumulate, _ = ratios["accumulate"]
    replace, error = ratios["replace"]
    assert np.all(accumulate < PI_SQUARED_OVER_6) and accumulate[-1] > 1.2
    assert replace[3] > 3 * PI_SQUARED_OVER_6 / 2 and replace[-1] > replace[3]


def test_the_exact_tvs_of_the_new_laws_agree_with_monte_carlo():
    for rate, other in [(3.0, 3.6), (0.5, 2.0)]:
        estimate = tv_monte_carlo(Poisson(rate), Poisson(other), 200_000, np.random.default_rng(0))
        assert abs(poisson_tv(rate, [other])[0] - estimate.value) < 4 * estimate.stderr
    truth = LogisticLaw([1.0, -0.5, 0.25])
    for other in ([1.2, -0.3, 0.0], [-0.5, 0.5, 1.0]):
        estimate = tv_monte_carlo(truth, LogisticLaw(other), 200_000, np.random.default_rng(1))
        assert abs(truth.tv_to([LogisticLaw(other)])[0] - estimate.value) < 4 * estimate.stderr
    assert poisson_tv(0.0, [1.0])[0] == pytest.approx(1 - np.exp(-1.0), 1e-15)


def test_separable_labels_collapse_the_replicate_not_the_run():
    """Four points cannot pin a logistic fit down: the labels are often separable, the MLE infinite; those replicates
    are recorded as collapsed and the others go on. Fitted directly such a sample raises."""
    truth = LogisticLaw([2.0, 0.0])
    result = run_loop(truth, LogisticMLE(), Scenario.fully_synthetic(6), 3, seed=0, replicates=40)
    assert 0 < np.sum(result.collapsed_at >= 0) < 40
    with pytest.raises(ValueError, match="separable"):
        LogisticMLE().fit(np.array([[1.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [2.0, 1.0, 1.0]]))
