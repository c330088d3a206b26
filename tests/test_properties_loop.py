"""Property-based verification of Lemma R, Theorem D and the phase transition (the method: tests/test_properties.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st
from properties import POWER_REPLICATES, REPLICATES, REQUIRED_POWER, TIGHT, budget  # noqa: F401

from selfloop.bounds import (
    calibrate,
    kde_bound_for,
    kde_rate,
    phase_threshold,
)
from selfloop.bounds.diffusion import calibration_upper
from selfloop.bounds.recursion import propagate_scenario
from selfloop.simulators import (
    KDE,
    DegenerateFit,
    GaussianMLE,
    PowerRule,
    RandomFeatureDiffusion,
    Scenario,
    run_loop,
    standard_truth,
)
from selfloop.testing import ALPHA, check_bound, check_property
from selfloop.testing import strategies as sst
from selfloop.testing.phase import rise_then_fall
from selfloop.testing.record import record


@st.composite
def small_models(draw):
    kind = draw(st.sampled_from(["kde", "mle", "diffusion"]))
    if kind == "kde":
        return KDE(draw(sst.bandwidths(0.1, 0.6)))
    if kind == "mle":
        return GaussianMLE()
    # Lemma R holds for any learner; the preconditioned network keeps small fits of drifting synthetic data from losing
    # mass outward (Li's network, with no inward far field, does at N = 100: docs/theory.md, section 4.1)
    return RandomFeatureDiffusion(
        width=draw(st.sampled_from([16, 32])), steps=30, noise_draws=4, parameterization="preconditioned"
    )


@budget(15)
@given(
    truth=sst.truths(dim=1),
    model=small_models(),
    scenario=sst.scenarios(
        kinds=("fully_synthetic", "mixed_fresh", "mixed_reused", "growing_synthetic"), size=sst.sizes(100, 800)
    ),
    seed=sst.seeds(),
)
def test_lemma_r_one_step_inequality_holds_on_random_settings(truth, model, scenario, seed):
    r"""TV_i <= eps_i + (1 - lambda) TV_{i-1} on every run, every model, to quadrature error (1e-7). A setting whose
    fit degenerates (a small diffusion network fully synthetic at N ~ 100 can fling its sampler's mass off its grid by
    generation 3) has no density to measure and is rejected, not counted."""
    try:
        result = run_loop(truth, model, scenario, generations=3, seed=seed, replicates=2, measures=["one_step"])
    except DegenerateFit:
        reject()
    slack = result.one_step[:, 1:] + (1 - scenario.real_fraction) * result.tv[:, :-1] - result.tv[:, 1:]
    assert np.all(slack >= -1e-7), slack.min()


def test_lemma_r_negative_control_fails_without_the_one_step_error():
    """Dropping eps_i from the inequality makes it fail on the same runs."""
    truth = standard_truth("skewed_1d")
    result = run_loop(
        truth, KDE(0.3), Scenario.mixed(400, 0.3), generations=4, seed=1, replicates=3, measures=["one_step"]
    )
    assert np.any(result.tv[:, 1:] > (1 - 0.3) * result.tv[:, :-1] + 1e-3)


# --------------------------------------------------------------------------- Theorem D
DIFFUSION = RandomFeatureDiffusion(width=128, steps=80, noise_draws=8)
CALIBRATION_SIZES, CALIBRATION_WIDTHS, CALIBRATION_TRUTH = (250, 1000, 4000), (64, 128, 256), "skewed_1d"


@pytest.fixture(scope="module")
def calibrated_diffusion_bound():
    """Calibrate (C1, C2) on generation 0 over a 3 x 3 grid of N and width on skewed_1d (the tests run on bimodal_1d):
    upper confidence (mean + 3 se) of 6 replicates per cell."""
    sizes, widths, upper = [], [], []
    for width in CALIBRATION_WIDTHS:
        model = RandomFeatureDiffusion(width=width, steps=DIFFUSION.steps, noise_draws=DIFFUSION.noise_draws)
        for size in CALIBRATION_SIZES:
            tv = run_loop(
                standard_truth(CALIBRATION_TRUTH),
                model,
                Scenario.fully_synthetic(size),
                0,
                seed=size + width,
                replicates=6,
            ).tv[:, 0]
            sizes.append(size)
            widths.append(width)
            upper.append(calibration_upper(tv))  # the report's rule
    return calibrate(sizes, widths, upper)


def diffusion_case(bound, scenario, generations, seed, replicates=20, require_power=None):
    """Theorem D and its false variants on the same runs, checked by :func:`check_property`."""
    result = run_loop(standard_truth("bimodal_1d"), DIFFUSION, scenario, generations, seed=seed, replicates=replicates)
    values = dict(
        size=scenario.size, initial_size=scenario.initial, width=DIFFUSION.width, real_fraction=scenario.real_fraction
    )
    generation = np.arange(generations + 1)
    correct = bound.evaluate(generation=generation, **values)
    c1, c2 = bound.metadata["C1"], bound.metadata["C2"]
    sizes = scenario.training_sizes(generations).astype(float)
    one_step = np.sqrt((c1 * sizes ** (-0.4) + c2 * DIFFUSION.width ** (-0.8)) / 2)
    fast = np.sqrt((c1 * sizes ** (-0.8) + c2 * DIFFUSION.width ** (-0.8)) / 2)  # eps ∝ N^-2/5 instead of N^-1/5
    wrong = {
        "tight": correct / TIGHT,
        "third": correct / 3,
        "rate": propagate_scenario(fast, scenario),
        "dropped": one_step,
    }
    return check_property(
        "Theorem D (diffusion, calibrated)", result.tv, correct, controls=wrong, require_power=require_power
    )


@pytest.mark.property
@pytest.mark.slow
@budget(2)
@given(
    scenario=st.sampled_from(
        [
            Scenario.fully_synthetic(500),
            Scenario.mixed(2000, 0.5),
            Scenario.mixed(500, 0.2),
            Scenario.growing_synthetic(500, 1500),
        ]
    ),
    generations=st.integers(2, 4),
    seed=sst.seeds(),
)
def test_theorem_d_calibrated_bound_holds_on_disjoint_settings(calibrated_diffusion_bound, scenario, generations, seed):
    """Slow (about 20 s an example): Theorem D with (C1, C2) calibrated on generation 0 (N in 250/1000/4000, width 64/128/256, skewed_1d) holds on bimodal_1d
    N = 500/2000 later generations; every control within power is refuted. The default run keeps the fixed prediction
    test below."""
    diffusion_case(calibrated_diffusion_bound, scenario, generations, seed)


@pytest.mark.property
def test_theorem_d_prediction_and_negative_controls(calibrated_diffusion_bound):
    """On a disjoint setting the calibrated bound holds, and the third and dropped variants are refuted. The rate
    variant is asserted where it is within power (by check_property): with Li's network the width term carries most
    of the calibrated eps, so doubling the N-rate moves the bound little and may leave it true."""
    outcome = diffusion_case(calibrated_diffusion_bound, Scenario.fully_synthetic(2000), 4, seed=7)
    for name in ("third", "dropped"):
        assert outcome.controls[name].refuted, f"{name}: {outcome.controls[name].summary()}"


#: Where the calibrated Theorem D is tightest among the disjoint settings measured (generation 0, N = 250, width 128 on
#: bimodal_1d: bound / mean TV 1.15, against 1.26-1.42 at N = 1000-4000 and 0.89-0.95, i.e. false, at width 64), with
#: replicates enough (768, about 30 s; the replicates' samplers and densities run together) to see a 4% violation.
THEOREM_D_POWER_SETTING = (Scenario.fully_synthetic(250), 0, 768)


@pytest.mark.property
def test_theorem_d_is_checked_to_fifteen_percent(calibrated_diffusion_bound):
    """Where the calibrated Theorem D is tight, the test sees a violation of 15% (detectable ratio <= 1.15) and refutes
    the bound / 1.2 (about 4% below the mean TV there)."""
    scenario, generations, replicates = THEOREM_D_POWER_SETTING
    outcome = diffusion_case(
        calibrated_diffusion_bound, scenario, generations, seed=0, replicates=replicates, require_power=REQUIRED_POWER
    )
    assert outcome.controls["tight"].refuted, outcome.controls["tight"].summary()


# --------------------------------------------------------------------------- Theorem P
PHASE_REAL, PHASE_GENERATION, PHASE_REPLICATES, PHASE_RATE = (
    500,
    8,
    60,
    kde_rate(1),
)  # the report's rate for h ∝ N^(-1/5)


def phase_amounts() -> list[int]:
    """m = 0 and 12 log-spaced amounts from m*/20 to 20 m* (m*_8 = 6389 for n = 500)."""
    threshold = phase_threshold(alpha=PHASE_RATE, n=PHASE_REAL, generation=PHASE_GENERATION)
    return [0] + [int(m) for m in np.round(np.geomspace(threshold / 20, 20 * threshold, 12))]


@pytest.fixture(scope="module")
def phase_samples():
    """Replicate TVs at generation 8 of the growing-synthetic KDE loop, h = 0.9 N^(-1/5), one cell (own seed) per m."""
    truth, model = standard_truth("bimodal_1d"), KDE(PowerRule(0.9))
    amounts = phase_amounts()
    return amounts, [
        run_loop(
            truth,
            model,
            Scenario.growing_synthetic(PHASE_REAL, m),
            PHASE_GENERATION,
            seed=m,
            replicates=PHASE_REPLICATES,
        ).tv[:, -1]
        for m in amounts
    ]


@pytest.mark.property
def test_phase_transition_rises_then_falls(phase_samples):
    """Mean TV at generation 8 rises and then falls in m (valid at 1%, Bonferroni over all pairs); the peak has a 90% interval.

    Measured here: the empirical peak's interval is printed beside Theorem P's m*_8.
    The bound's own peak is tested against m*_8 in tests/test_phase.py.
    """
    amounts, samples = phase_samples
    outcome = rise_then_fall(amounts, samples)  # the report's level
    threshold = phase_threshold(alpha=PHASE_RATE, n=PHASE_REAL, generation=PHASE_GENERATION)
    means = [s.mean() for s in samples]
    print(
        f"\nphase: m = {amounts}\nmean TV = {np.round(means, 4)}\npeak {outcome.peak:.0f}, 90% interval {outcome.interval}, m*_8 = {threshold:.0f}"
    )
    assert outcome.rises_then_falls, outcome


@pytest.mark.property
def test_phase_test_does_not_see_a_peak_on_a_monotone_stretch(phase_samples):
    """Negative control: on the rising part of the same data (m <= m*/2) no rise-then-fall is declared."""
    amounts, samples = phase_samples
    threshold = phase_threshold(alpha=PHASE_RATE, n=PHASE_REAL, generation=PHASE_GENERATION)
    keep = [i for i, m in enumerate(amounts) if m <= threshold / 2]
    outcome = rise_then_fall([amounts[i] for i in keep], [samples[i] for i in keep])
    assert outcome.rises and not outcome.rises_then_falls, outcome


# --------------------------------------------------------------------------- reused real data
@pytest.mark.property
def test_reused_real_pool_outcome_is_recorded():
    """Outside the theory: a fixed real pool breaks independence. The outcome is recorded, not assumed.

    What is asserted is the mechanism, not the verdict: reusing one pool
    makes the replicates' TV at late generations more dispersed than fresh
    real data (the pool's own sampling error is shared by every generation),
    by a variance ratio above the 99.9% F quantile. Whether Theorem K's
    bound is refuted is recorded in the summary and printed.
    """
    from scipy import stats

    truth, bandwidth, generations, replicates = standard_truth("bimodal_1d"), 0.3, 6, 120
    reused_scenario, fresh_scenario = Scenario.mixed(400, 0.5, reuse_real=True), Scenario.mixed(400, 0.5)
    reused = run_loop(truth, KDE(bandwidth), reused_scenario, generations, seed=3, replicates=replicates).tv
    fresh = run_loop(truth, KDE(bandwidth), fresh_scenario, generations, seed=3, replicates=replicates).tv
    bound = kde_bound_for(truth, bandwidth, fresh_scenario, generations)
    verdict = check_bound(reused, bound, alpha=ALPHA)
    record("Reused real pool (outside the theory)", verdict)
    print("\nreused real pool vs Theorem K:", verdict.summary())
    ratio = reused[:, -1].var(ddof=1) / fresh[:, -1].var(ddof=1)
    assert ratio > stats.f.ppf(0.999, replicates - 1, replicates - 1), ratio
