"""Bounds: the Bound type, Lemma R, Theorem K, Theorem D calibration; symbolic properties via Hypothesis."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from selfloop.bounds import (
    BOUNDS,
    Bound,
    Source,
    calibrate,
    diffusion_tv_bound,
    get_bound,
    kde_bound_for,
    kde_tv_bound,
    propagate,
    recursion_bound,
    register,
    registered_bounds,
)
from selfloop.bounds import symbols as s
from selfloop.bounds.kde import kde_accumulate_bound, kde_bound_terms
from selfloop.bounds.recursion import accumulate_bound, accumulate_sum, unrolled_sum
from selfloop.simulators import KDE, Scenario, run_loop, standard_truth

#: Values each symbol may take in the property tests.
SYMBOL_VALUES = {
    "size": st.integers(10, 10**6),
    "initial_size": st.integers(10, 10**6),
    "added": st.integers(1, 10**6),
    "real_fraction": st.floats(0.0, 1.0),
    "generation": st.integers(0, 30),
    "error": st.floats(0.0, 0.5),
    "initial_error": st.floats(0.0, 0.5),
    "bandwidth": st.floats(0.01, 2.0),
    "dim": st.integers(1, 3),
    "bias": st.floats(0.0, 0.3),
    "laplacian_l1": st.floats(0.0, 10.0),
    "sqrt_integral": st.floats(0.5, 20.0),
    "weight_moment": st.floats(1.0, 100.0),
    "moment_order": st.integers(2, 3),
    "second_moment": st.floats(0.0, 20.0),
    "width": st.integers(1, 4096),
    "C1": st.floats(0.0, 10.0),
    "C2": st.floats(0.0, 10.0),
    "constant": st.floats(0.01, 10.0),
    "alpha": st.floats(0.01, 0.99),
    "real": st.floats(1.0, 10**5),
    "synthetic": st.floats(0.0, 10**6),
    "root_mean_square_integral": st.floats(0.0, 2.0),
    "mean_absolute_integral": st.floats(0.0, 2.0),
    "variance_deviation": st.floats(0.0, 2.0),
    "mean_deviation": st.floats(0.0, 5.0),
    "log_variance_square": st.floats(0.0, 20.0),
    "alphabet": st.integers(1, 10**4),
    "smoothing": st.floats(0.0, 5.0),
    "root_variance_sum": st.floats(0.0, 100.0),
}

#: Bounds of the error-propagation kind (the phase bound is a function of m, not N, and is tested in test_phase; the
#: categorical per-symbol bound takes a fit's two moments, which are not free, and is tested in test_categorical).
PROPAGATION_BOUNDS = sorted(
    name for name in registered_bounds() if name not in ("phase_theorem_p", "categorical_symbol_error")
)


@st.composite
def bound_and_values(draw):
    bound = registered_bounds()[draw(st.sampled_from(PROPAGATION_BOUNDS))]
    values = {name: draw(SYMBOL_VALUES[name]) for name in bound.symbol_names}
    return bound, values


def _not_above(smaller, larger):
    return smaller <= larger * (1 + 1e-12) + 1e-15


@given(bound_and_values())
def test_every_bound_is_finite_and_non_negative(case):
    bound, values = case
    assert bound.evaluate(**values) >= 0


@given(bound_and_values(), st.floats(1.01, 100))
def test_every_bound_decreases_in_size(case, factor):
    bound, values = case
    assume("size" in values)
    larger = dict(values, size=int(values["size"] * factor) + 1)
    assert _not_above(bound.evaluate(**larger), bound.evaluate(**values))


@given(bound_and_values(), st.floats(0.0, 1.0))
def test_every_bound_decreases_in_real_fraction(case, more):
    bound, values = case
    assume("real_fraction" in values)
    higher = dict(values, real_fraction=values["real_fraction"] + more * (1 - values["real_fraction"]))
    assert _not_above(bound.evaluate(**higher), bound.evaluate(**values))


@given(bound_and_values())
def test_every_bound_is_non_decreasing_in_generation_without_real_data(case):
    bound, values = case
    assume("generation" in values)
    if "real_fraction" in values:
        values["real_fraction"] = 0.0
    later = dict(values, generation=values["generation"] + 1)
    assert _not_above(bound.evaluate(**values), bound.evaluate(**later))


@given(st.integers(0, 25), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_lemma_r_closed_form_equals_the_explicit_sum(generation, real_fraction, error):
    explicit = unrolled_sum(generation).doit()
    eps, lam = sp.IndexedBase("eps"), sp.IndexedBase("lam")
    explicit = explicit.replace(lambda e: isinstance(e, sp.Indexed) and e.base == eps, lambda e: sp.Float(error))
    explicit = explicit.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == lam, lambda e: sp.Float(real_fraction)
    )
    closed = recursion_bound().evaluate(error=error, real_fraction=real_fraction, generation=generation)
    assert float(explicit) == pytest.approx(closed, rel=1e-10, abs=1e-14)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.data())
def test_numeric_propagation_equals_the_explicit_sum(errors, data):
    fractions = data.draw(st.lists(st.floats(0, 1), min_size=len(errors), max_size=len(errors)))
    generation = len(errors) - 1
    eps, lam = sp.IndexedBase("eps"), sp.IndexedBase("lam")
    explicit = unrolled_sum(generation).doit().subs({eps[k]: errors[k] for k in range(len(errors))})
    explicit = explicit.subs({lam[j]: fractions[j] for j in range(len(errors))})
    assert propagate(np.array(errors), np.array(fractions))[-1] == pytest.approx(float(explicit), rel=1e-10, abs=1e-14)


def test_geometric_closed_form_is_used_when_real_fraction_is_positive():
    bound = recursion_bound()
    assert not bound.expr.has(sp.Sum)
    lam = sp.Rational(3, 10)
    specialised = sp.simplify(bound.expr.subs(s.real_fraction, lam))
    closed = s.error * (1 - (1 - lam) ** (s.generation + 1)) / lam
    assert sp.simplify(specialised - closed) == 0
    # and the linear growth at lambda = 0
    assert sp.simplify(bound.expr.subs(s.real_fraction, 0) - (s.generation + 1) * s.error) == 0


@pytest.mark.parametrize("generation", [0, 1, 5, 20])
def test_accumulate_digamma_form_equals_the_explicit_sum(generation):
    values = {s.added: 300, s.initial_size: 1000}
    explicit = float(accumulate_sum(generation).subs(values).doit())
    closed = accumulate_bound().evaluate(error=1.0, added=300, initial_size=1000, generation=generation) - 1.0
    assert closed == pytest.approx(explicit, rel=1e-12, abs=1e-14)


def test_kde_bound_holds_and_is_within_five_times_the_mean_empirical_tv(record_property):
    """Issue figure: 1-D bimodal truth, N = 1000, h = 0.3, real fraction 0.5, 20 loops, 10 generations."""
    truth, scenario = standard_truth("bimodal_1d"), Scenario.mixed(1000, 0.5)
    bound = kde_bound_for(truth, 0.3, scenario, 10)
    empirical = run_loop(truth, KDE(0.3), scenario, generations=10, seed=0, replicates=20).mean_tv()
    ratio = bound / empirical
    record_property("kde_bound_over_mean_tv", ratio.round(3).tolist())
    print("\nTheorem K bound / mean empirical TV, generations 0..10:", np.round(ratio, 2))
    assert np.all(np.isfinite(bound))
    assert np.all(bound >= empirical)
    assert np.all(ratio <= 5)


def test_symbolic_kde_forms_dominate_the_exact_numeric_bound():
    truth, scenario, h, generations = standard_truth("bimodal_1d"), Scenario.fully_synthetic(500), 0.3, 6
    terms = kde_bound_terms(truth, h, scenario, generations)
    exact = kde_tv_bound().evaluate(
        bias=terms.bias[0],
        sqrt_integral=terms.sqrt_integral.max(),
        bandwidth=h,
        dim=1,
        size=500,
        initial_size=500,
        real_fraction=0.0,
        generation=generations,
    )
    assert exact >= terms.total[-1] * (1 - 1e-12)
    laplacian = truth.laplacian_l1().value
    heat = kde_tv_bound("heat", "moment_1d").evaluate(
        laplacian_l1=laplacian,
        second_moment=truth.squared_norm_moment(1),
        bandwidth=h,
        size=500,
        initial_size=500,
        real_fraction=0.0,
        generation=generations,
    )
    assert heat >= exact * (1 - 1e-12)
    # the numeric heat and moment forms are looser than the exact one, and still finite
    loose = kde_bound_for(truth, h, scenario, generations, bias="heat", sampling="moment")
    assert np.all(loose >= terms.total * (1 - 1e-12)) and np.all(np.isfinite(loose))


def test_kde_accumulate_symbolic_form_dominates_numeric():
    truth, h = standard_truth("skewed_1d"), 0.25
    scenario = Scenario.accumulating(400, 200)
    terms = kde_bound_terms(truth, h, scenario, 8)
    symbolic = kde_accumulate_bound().evaluate(
        bias=terms.bias[0],
        sqrt_integral=terms.sqrt_integral.max(),
        bandwidth=h,
        dim=1,
        added=200,
        initial_size=400,
        generation=8,
    )
    assert symbolic >= terms.total[-1] * (1 - 1e-12)
    assert np.all(np.diff(terms.total) > 0)


def test_calibration_is_the_smallest_envelope():
    sizes = [250, 1000, 4000, 250, 1000, 4000]
    widths = [64, 64, 64, 512, 512, 512]
    tv = [0.30, 0.22, 0.17, 0.25, 0.16, 0.10]
    bound = calibrate(sizes, widths, tv)
    assert bound.source.status == "calibrated"
    assert bound.metadata["calibration"][0] == dict(size=250, width=64, tv_upper=0.30)
    eps = np.array(
        [
            bound.evaluate(size=n, initial_size=n, width=m, real_fraction=1.0, generation=0)
            for n, m in zip(sizes, widths)
        ]
    )
    assert np.all(eps >= np.array(tv) * (1 - 1e-12))
    assert np.isclose(eps / tv, 1.0, rtol=1e-6).any()  # touches the data: no smaller envelope exists
    # scaled down by 1/3 (a deliberately false envelope) the constraints fail
    shrunk = diffusion_tv_bound().subs(C1=bound.metadata["C1"] / 9, C2=bound.metadata["C2"] / 9)
    assert any(
        shrunk.evaluate(size=n, initial_size=n, width=m, real_fraction=1.0, generation=0) < t
        for n, m, t in zip(sizes, widths, tv)
    )


@pytest.mark.parametrize(
    "values, symbol",
    [
        (dict(error=0.1, generation=3), "real_fraction"),
        (dict(error=0.1, real_fraction=1.5, generation=3), "real_fraction"),
        (dict(error=0.1, real_fraction=-0.1, generation=3), "real_fraction"),
        (dict(error=0.1, real_fraction=0.5, generation=2.5), "generation"),
        (dict(error=-0.1, real_fraction=0.5, generation=3), "error"),
        (dict(error=np.nan, real_fraction=0.5, generation=3), "error"),
        (dict(error=0.1, real_fraction=0.5, generation=3, size=10), "size"),
    ],
)
def test_bad_values_are_named(values, symbol):
    with pytest.raises(ValueError, match=symbol):
        recursion_bound().evaluate(**values)


def test_non_positive_sizes_are_named():
    with pytest.raises(ValueError, match="size must be positive"):
        kde_tv_bound().evaluate(
            bias=0.01,
            sqrt_integral=3.0,
            bandwidth=0.3,
            dim=1,
            size=0,
            initial_size=100,
            real_fraction=0.5,
            generation=1,
        )
    with pytest.raises(ValueError, match="bandwidth"):
        kde_bound_for(standard_truth("bimodal_1d"), -0.3, Scenario.mixed(100, 0.5), 2)
    with pytest.raises(ValueError, match="tv_upper"):
        calibrate([100], [64], [1.5])


def test_evaluate_broadcasts_numpy_arrays():
    values = recursion_bound().evaluate(error=0.1, real_fraction=np.array([0.0, 0.5, 1.0]), generation=np.arange(3))
    np.testing.assert_allclose(values, [0.1, 0.15, 0.1])  # eps (1 - (1-lambda)^(i+1)) / lambda


def test_every_registered_bound_renders_latex_and_carries_provenance():
    for name, bound in registered_bounds().items():
        latex = bound.latex()
        assert latex and latex.count("{") == latex.count("}"), name
        assert "arXiv:2402.11778" in bound.source.paper
        assert bound.source.status in ("rigorous", "calibrated")
        for symbol in bound.symbols:
            assert symbol in s.LATEX_NAMES, f"{name}: {symbol} has no notation"
    assert r"\lambda" in recursion_bound().latex()


def test_every_symbol_has_its_own_notation():
    names = list(s.LATEX_NAMES.values())
    assert len(set(names)) == len(names), sorted(name for name in names if names.count(name) > 1)


def test_users_can_register_their_own_bound():
    mine = Bound("test_user_bound", s.error * (s.generation + 1), "linear growth", Source("me", "Lemma 1", "rigorous"))
    with BOUNDS.scoped():  # the registration ends with the block, so no other test sees it
        assert register(mine) is mine and get_bound("test_user_bound") is mine
        with pytest.raises(ValueError, match="already a registered bound"):
            register(Bound("test_user_bound", s.error, "other", Source("me", "Lemma 2", "rigorous")))
    assert "test_user_bound" not in registered_bounds()
    with pytest.raises(ValueError, match="status"):
        Source("me", "Lemma 3", "heuristic")


def test_precise_evaluation_agrees_with_numpy_and_beats_float_cancellation():
    bound = recursion_bound()
    assert float(bound.evaluate_precise(error=0.1, real_fraction=0.3, generation=7)) == pytest.approx(
        bound.evaluate(error=0.1, real_fraction=0.3, generation=7), rel=1e-14
    )
    tiny = bound.evaluate_precise(40, error=1, real_fraction=1e-30, generation=3)
    assert abs(tiny - 4) < 1e-25  # (1 - (1 - 1e-30)^4) / 1e-30 -> 4 exactly in 40 digits
    with pytest.raises(ValueError, match="real_fraction"):
        bound.evaluate_precise(error=1, real_fraction=2, generation=3)
