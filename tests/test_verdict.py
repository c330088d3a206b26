"""The bound-checking test itself: validity (type-I error), calibrated power (the detectable ratio), edges.

The numbers these tests measure are quoted in the README ("How the bounds are tested").
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from selfloop.testing import POWER, check_bound
from selfloop.testing.betting import _closed_form_p_value
from selfloop.testing.betting import p_values as _p_values


def correlated_gamma(
    rng, draws: int, replicates: int, mean: np.ndarray, cv: float, correlation: float = 0.7
) -> np.ndarray:
    """``draws`` replicate sets (draws, R, G) of gamma TVs with the given means and CV, correlated across generations."""
    shape = 1 / cv**2
    latent = rng.standard_normal((draws, replicates, 1)) * np.sqrt(correlation) + rng.standard_normal(
        (draws, replicates, mean.size)
    ) * np.sqrt(1 - correlation)
    return np.clip(stats.gamma.ppf(stats.norm.cdf(latent), shape, scale=mean / shape), 0.0, 1.0)


def two_point(rng, draws: int, replicates: int, generations: int, mean: float, high: float) -> np.ndarray:
    """The least favourable null for betting: values 0 or ``high`` with the given mean."""
    return np.where(rng.random((draws, replicates, generations)) < mean / high, high, 0.0)


def rejection_rate(samples: np.ndarray, bound: np.ndarray, alpha: float, method: str) -> float:
    p_values = _p_values(samples, bound, alpha, method)[0]
    return float(np.mean(p_values <= alpha))


@pytest.mark.parametrize("method", ["betting", "plugin", "bernstein", "hoeffding"])
@pytest.mark.parametrize("replicates, generations", [(8, 1), (32, 1), (32, 5)])
def test_type_one_error_at_the_null_boundary_is_at_most_alpha(method, replicates, generations):
    """At E TV = bound exactly, 2000 replicate sets per law (gamma CV 0.5; two-point {0, 0.5}) reject at most alpha = 0.05.

    Measured: betting 0.000-0.001, plugin 0.000-0.022, Bernstein and Hoeffding 0.
    Every method is valid by construction; this checks the implementation.
    """
    rng = np.random.default_rng(replicates * 10 + generations)
    alpha, draws = 0.05, 2000 if method == "betting" else 400
    bound = np.full(generations, 0.05)
    for samples in (
        correlated_gamma(rng, draws, replicates, bound, 0.5),
        two_point(rng, draws, replicates, generations, 0.05, 0.5),
    ):
        rate = rejection_rate(samples, bound, alpha, method)
        print(f"{method} R={replicates} G={generations}: rejection rate {rate:.4f} at alpha {alpha}")
        assert rate <= alpha, rate


@pytest.mark.parametrize(
    "replicates, generations, cv, alpha",
    [(48, 5, 0.3, 1e-3), (24, 3, 0.2, 0.05), (100, 8, 0.1, 1e-3)],
)
def test_a_bound_at_mean_over_detectable_ratio_is_refuted_with_the_stated_power(replicates, generations, cv, alpha):
    """Calibration of ``Verdict.detectable_ratio`` on known laws (correlated gamma TVs).

    For 20 pilot replicate sets, the detectable ratio rho is estimated from the
    pilot alone; then 50 fresh sets from the same law are tested against the
    bound mean / rho. The fraction refuted (1000 tests, pilot noise included)
    must reach 0.9 up to Monte Carlo error (2.33 binomial standard errors) and
    must not be far above it (else the ratio overstates what is needed).
    Measured: 0.934, 0.942, 0.941.
    """
    rng = np.random.default_rng(replicates + generations)
    mean = np.linspace(0.04, 0.08, generations)
    rates, ratios = [], []
    for _ in range(20):
        pilot = correlated_gamma(rng, 1, replicates, mean, cv)[0]
        ratio = check_bound(pilot, mean, alpha=alpha).detectable_ratio
        fresh = correlated_gamma(rng, 50, replicates, mean, cv)
        rates.append(rejection_rate(fresh, mean / ratio, alpha, "betting"))
        ratios.append(ratio)
    rate = float(np.mean(rates))
    allowance = 2.33 * np.sqrt(POWER * (1 - POWER) / 1000)
    print(
        f"R={replicates} G={generations} CV={cv} alpha={alpha}: detectable ratio median {np.median(ratios):.3f}; refuted {rate:.3f} of fresh sets"
    )
    assert POWER - allowance <= rate <= 0.97, rate


def test_detectable_ratio_never_beats_the_information_floor():
    r"""With no spread at all, no valid test can see :math:`\rho < (1/\alpha)^{1/R}`; the ratio stays above it.

    The mixture's own floor is :math:`(2/\alpha)^{1/R}` (half its prior on the largest bet, 0.99/b).
    """
    for replicates in (16, 64, 200):
        tv = np.full((replicates, 3), 0.05) * (1 + 1e-6 * np.arange(replicates))[:, None]
        ratio = check_bound(tv, [0.05] * 3).detectable_ratio
        floor = 1e3 ** (1 / replicates)
        assert floor <= ratio <= 1.01 * (2e3 / 0.99) ** (1 / replicates), (replicates, ratio, floor)


def test_few_replicates_are_underpowered():
    """At alpha = 1e-3, R = 4 sees only a ~7x violation and R = 2 none up to 10x: neither counts as a check."""
    tv = np.random.default_rng(0).gamma(10, 0.005, size=(4, 5))
    verdict = check_bound(tv, tv.mean(axis=0))
    assert verdict.underpowered and verdict.detectable_ratio > (2e3) ** (1 / 4), verdict.summary()
    assert check_bound(tv[:2], tv.mean(axis=0)).detectable_ratio == np.inf


def test_the_default_test_refutes_a_bound_15_percent_too_small_with_enough_replicates():
    """R = 200, CV 0.2: a bound at mean / 1.2 is refuted, the true mean is not, and the ratio is below 1.15."""
    rng = np.random.default_rng(3)
    mean = np.full(6, 0.05)
    tv = correlated_gamma(rng, 1, 200, mean, 0.2)[0]
    assert check_bound(tv, mean / 1.2).refuted
    verdict = check_bound(tv, mean * 1.02)
    assert not verdict.refuted and verdict.detectable_ratio <= 1.15, verdict.summary()


def test_lower_side_mirrors_the_upper_side():
    """side='lower' tests E TV >= b: a lower bound at twice the mean is refuted, one below the mean is not.

    Lower bounds on a small mean are inherently hard to refute with TV in [0, 1]:
    a null with mean 0.125 may put 2.8% of its mass at 1, and 100 draws near 0.1
    then have probability 0.06 under it. The detectable ratio says so.
    """
    tv = correlated_gamma(np.random.default_rng(4), 1, 100, np.full(4, 0.1), 0.2)[0]
    assert check_bound(tv, np.full(4, 0.2), side="lower").refuted
    assert not check_bound(tv, np.full(4, 0.125), side="lower").refuted  # true that E TV < 0.125, but out of reach
    verdict = check_bound(tv, np.full(4, 0.09), side="lower")
    print("lower side, R = 100, mean 0.1:", verdict.summary())
    assert not verdict.refuted and verdict.max_ratio < 1
    assert verdict.underpowered and verdict.detectable_ratio > 4  # measured 5.3: the mean would have to be 0.09 / 5.3


def test_empirical_bernstein_uses_log_two_over_delta():
    """Maurer & Pontil, Theorem 4: at the returned delta the width with ln(2/delta) equals the excess of the mean."""
    samples = np.random.default_rng(5).beta(2, 20, size=400)
    bound = samples.mean() - 0.03
    delta = _closed_form_p_value(samples, bound, "bernstein")
    log_term = np.log(2 / delta)
    width = np.sqrt(2 * samples.var(ddof=1) * log_term / samples.size) + 7 * log_term / (3 * (samples.size - 1))
    assert width == pytest.approx(0.03, rel=1e-6)


def test_edge_bounds():
    """b = 0 is refuted by any positive TV; b >= 1 cannot be refuted; bad inputs name the parameter."""
    tv = np.full((10, 2), 0.2)
    assert check_bound(tv, [0.0, 0.5]).refuted
    assert not check_bound(tv, [1.0, 1.0]).refuted
    with pytest.raises(ValueError, match="side"):
        check_bound(tv, [0.5, 0.5], side="both")
    with pytest.raises(ValueError, match="method"):
        check_bound(tv, [0.5, 0.5], method="t-test")
    with pytest.raises(ValueError, match="tv"):
        check_bound(tv * np.nan, [0.5, 0.5])
    with pytest.raises(
        ValueError, match=r"bound must be a number or one per generation, shape \(2,\), got shape \(3,\)"
    ):
        check_bound(tv, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="R >= 1"):
        check_bound(np.zeros((0, 2)), [0.5, 0.5])
    assert check_bound(tv, 0.5).bound.tolist() == [0.5, 0.5]  # a number is every generation's bound


@pytest.mark.parametrize("side", ["upper", "lower"])
def test_the_pruned_bisection_is_the_full_bisection_bit_for_bit(side):
    """Under mixture betting the detectable ratio's bisection tests only the resampled sets still open; on random
    replicate sets (bounds above and below the mean, a zero and a bound past 1 among them) it returns exactly what
    testing every set at every step returns."""
    from selfloop.testing.verdict import MAX_RATIO, _PowerBootstrap, detectable_ratio

    def full_bisection(tv, bound):
        power = _PowerBootstrap(tv, bound, 1e-3, "betting", side)

        def at(ratio):
            return power(bound * ratio if side == "upper" else bound / ratio)

        if at(MAX_RATIO) < POWER:
            return float("inf")
        if at(1.0) >= POWER:
            return 1.0
        low, high = 0.0, np.log(MAX_RATIO)
        while high - low > 4e-3:
            middle = (low + high) / 2
            low, high = (low, middle) if at(np.exp(middle)) >= POWER else (middle, high)
        return float(np.exp(high))

    rng = np.random.default_rng(7)
    finite = 0
    for _ in range(12):
        replicates, generations = int(rng.integers(8, 200)), int(rng.integers(1, 12))
        tv = np.clip(rng.gamma(rng.uniform(1, 30), 0.01, size=(replicates, generations)), 0.0, 1.0)
        bound = tv.mean(axis=0) * rng.uniform(0.5, 3.0, size=generations)
        bound[rng.random(generations) < 0.1] = rng.choice([0.0, 1.2])
        if side == "lower":
            bound = np.minimum(bound / 2, 0.9)
        pruned = detectable_ratio(tv, bound, side=side)
        assert pruned == full_bisection(tv, bound)
        finite += 1.0 < pruned < MAX_RATIO
    assert finite >= 6  # most cases exercise the bisection itself, not only its ends
