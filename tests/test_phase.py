"""Theorem P: the phase transition, derived with SymPy and checked numerically."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from selfloop.bounds import phase_threshold
from selfloop.bounds import symbols as s
from selfloop.bounds.phase import (
    infinite_generation_limit,
    phase_bound,
    ratio,
    scaled_phase_bound,
    slope_at_infinity,
    slope_at_zero,
    threshold_closed_form,
    threshold_ratio,
)

GENERATIONS = range(1, 11)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_slope_at_zero_is_positive_iff_alpha_below_one(generation):
    slope = slope_at_zero(generation)
    assert sp.simplify(slope - s.constant * (1 - s.alpha) * s.real ** (-s.alpha - 1)) == 0


@pytest.mark.parametrize("generation", GENERATIONS)
def test_slope_at_infinity_is_negative(generation):
    assert sp.simplify(slope_at_infinity(generation) + generation * s.alpha) == 0


def test_bound_is_scale_free_in_m_over_n():
    generation = 3
    bound = phase_bound(generation).expr
    scaled = s.constant * s.real ** (-s.alpha) * scaled_phase_bound(generation).subs(ratio, s.synthetic / s.real)
    for values in (
        {s.alpha: 0.2, s.real: 500, s.synthetic: 1234.5, s.constant: 1.7},
        {s.alpha: 0.6, s.real: 3, s.synthetic: 0.1, s.constant: 1},
    ):
        assert float(bound.subs(values)) == pytest.approx(float(scaled.subs(values)), rel=1e-12)


def _slope(alpha, generation):
    expr = sp.diff(scaled_phase_bound(generation), ratio).subs(s.alpha, sp.Rational(str(alpha)))
    return sp.lambdify(ratio, expr, "mpmath")


@given(st.floats(0.05, 0.95), st.integers(1, 10))
def test_derivative_changes_sign_exactly_once_at_the_threshold(alpha, generation):
    with mpmath.workdps(40):  # restored on exit, so no other test inherits the precision
        _sign_changes_once_at_the_threshold(alpha, generation)


def _sign_changes_once_at_the_threshold(alpha, generation):
    slope = _slope(alpha, generation)
    grid = np.logspace(-8, 14, 3001)
    signs = np.sign([float(slope(mpmath.mpf(t))) for t in grid])
    changes = np.flatnonzero(signs[:-1] != signs[1:])
    assert changes.size == 1 and signs[0] > 0 > signs[-1]
    threshold = threshold_ratio(alpha, generation)
    assert grid[changes[0]] * (1 - 1e-12) <= threshold <= grid[changes[0] + 1] * (1 + 1e-12)
    # the returned point is a root to 1e-8 relative: the slope is + just below and - just above it
    assert (
        slope(mpmath.mpf(threshold) * (1 - mpmath.mpf("1e-8")))
        > 0
        > slope(mpmath.mpf(threshold) * (1 + mpmath.mpf("1e-8")))
    )


@given(st.floats(0.05, 0.95))
def test_threshold_grows_with_generation(alpha):
    thresholds = [threshold_ratio(alpha, generation) for generation in GENERATIONS]
    assert np.all(np.diff(thresholds) > 0)


@given(st.floats(0.05, 0.95), st.floats(1, 10**5))
def test_generation_one_closed_form_matches_nsolve(alpha, n):
    closed = float(threshold_closed_form().subs({s.alpha: alpha, s.real: n}))
    derivative = sp.diff(phase_bound(1).expr, s.synthetic).subs({s.alpha: alpha, s.real: n, s.constant: 1})
    root = float(sp.nsolve(derivative, s.synthetic, closed * 1.3, prec=40))
    assert closed == pytest.approx(root, rel=1e-10)
    assert phase_threshold(alpha, n, 1) == pytest.approx(root, rel=1e-10)


def test_threshold_values_quoted_in_theory():
    assert phase_threshold(0.2, 1, 1) == pytest.approx(6.48, abs=0.005)
    assert phase_threshold(0.2, 1, 2) == pytest.approx(9.17, abs=0.005)
    assert phase_threshold(0.2, 1, 3) == pytest.approx(11.79, abs=0.005)
    assert phase_threshold(0.2, 500, 1) == pytest.approx(500 * 6.4767439, rel=1e-7)


def test_infinite_generation_limit_has_no_peak():
    limit = infinite_generation_limit()
    expected = s.constant * (s.real + s.synthetic) ** (1 - s.alpha) / s.real
    assert sp.simplify(sp.expand_power_base(limit / expected, force=True)) == 1
    beta = sp.Symbol("beta", positive=True)  # alpha = 1/(1+beta) encodes 0 < alpha < 1
    assert sp.diff(expected, s.synthetic).subs(s.alpha, 1 / (1 + beta)).is_positive  # increasing in m: no peak


def test_bad_phase_input_is_named():
    with pytest.raises(ValueError, match="alpha"):
        phase_threshold(1.2, 500, 1)
    with pytest.raises(ValueError, match="alpha"):
        phase_threshold(0.0, 500, 1)
    with pytest.raises(ValueError, match="n must"):
        phase_threshold(0.2, -5, 1)
    with pytest.raises(ValueError, match="generation"):
        phase_threshold(0.2, 500, 0)


def test_theorem_k_bound_peaks_at_theorem_p_threshold():
    """Theorem K itself, evaluated along the growing-synthetic KDE loop (h = 0.9 N^(-1/5), n = 500), peaks within 15% of m*_8.

    An independent check of Theorem P: the symbolic threshold comes from the rate
    eps(N) = C N^(-2/5) propagated by Lemma R; the numeric bound uses this truth's
    exact functionals and bandwidth schedule. Measured: 6419 against 6389.
    """
    from scipy import optimize

    from selfloop.bounds import kde_bound_for
    from selfloop.simulators import Scenario, standard_truth

    truth, real, generation = standard_truth("bimodal_1d"), 500, 8
    threshold = phase_threshold(alpha=0.4, n=real, generation=generation)

    def negative_bound(log_synthetic: float) -> float:
        scenario = Scenario.growing_synthetic(real, int(round(np.exp(log_synthetic))))
        bandwidths = 0.9 * scenario.training_sizes(generation).astype(float) ** -0.2
        return -kde_bound_for(truth, bandwidths, scenario, generation)[-1]

    found = optimize.minimize_scalar(
        negative_bound, bounds=(np.log(threshold / 5), np.log(threshold * 5)), method="bounded", options={"xatol": 1e-3}
    )
    peak = float(np.exp(found.x))
    print(f"Theorem K peaks at m = {peak:.0f}; m*_8 = {threshold:.0f}")
    assert abs(peak / threshold - 1) < 0.15
    assert -negative_bound(np.log(threshold / 5)) < -found.fun > -negative_bound(np.log(threshold * 5))


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.4, 0.8])
def test_threshold_exists_for_every_generation_up_to_two_hundred(alpha):
    """m*_i is a + to - sign change of dB/dm for i up to 200 (it failed from i = 30 before: cancellation at t ~ 1e10)."""
    from selfloop.bounds.phase import stable_scaled_slope

    previous = 0.0
    for generation in (2, 5, 30, 100, 200):
        ratio = phase_threshold(alpha=alpha, n=1.0, generation=generation)
        slope = stable_scaled_slope(alpha, generation)
        assert slope(ratio * 0.999) > 0 > slope(ratio * 1.001)
        assert ratio > previous  # the threshold grows with the generation
        previous = ratio


@pytest.mark.parametrize("generation", [2, 7, 30])
def test_stable_slope_equals_the_symbolic_derivative(generation):
    """The cancellation-free slope is SymPy's dB/dt times (1+t)^(1+alpha), where both are accurate."""
    from selfloop.bounds.phase import _scaled_slope, stable_scaled_slope

    alpha = 0.3
    _, symbolic = _scaled_slope(alpha, generation)
    stable = stable_scaled_slope(alpha, generation)
    t = np.logspace(-3, 4, 50)
    np.testing.assert_allclose(stable(t), symbolic(t) * (1 + t) ** (1 + alpha), rtol=1e-9, atol=1e-12)
