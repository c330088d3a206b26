"""The Gaussian MLE loop's exact E TV_i (the chain of its sufficient statistics) against simulated loops, on settings
no suite or default uses, with a wrong law that the same z-test rejects."""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import gaussian_tv_to_standard, mle_expected_tv
from selfloop.reports.verdicts import LAW_Z
from selfloop.simulators import GaussianMixture, GaussianMLE, Scenario, gaussian_tv, run_loop, standard_truth

GAUSSIAN_1D = standard_truth("gaussian_1d")
GAUSSIAN_3D = GaussianMixture(  # not a suite truth
    [1.0], [[0.5, -1.0, 0.0]], [[[1.0, 0.4, 0.0], [0.4, 0.7, 0.1], [0.0, 0.1, 0.5]]]
)
REPLICATES = 1000


def max_abs_z(truth, law_scenario, loop_scenario, generations: int, seed: int, replicates: int = REPLICATES) -> float:
    """Largest |z| over generations of the loop's mean TV against the chain's E TV_i, both standard errors combined."""
    law = mle_expected_tv(truth, law_scenario, generations, draws=100_000, seed=seed)
    tv = run_loop(truth, GaussianMLE(), loop_scenario, generations=generations, replicates=replicates, seed=seed).tv
    spread = np.sqrt(law.standard_error**2 + tv.var(axis=0, ddof=1) / tv.shape[0])
    return float(np.max(np.abs(tv.mean(axis=0) - law.mean) / spread))


def test_the_one_dimensional_tv_is_the_closed_form():
    rng = np.random.default_rng(0)
    means, variances = rng.normal(0, 1.5, 300), np.exp(rng.normal(0, 1.2, 300))
    variances[:3] = [1.0, 1 + 1e-13, 1 - 1e-9]  # at and next to equal variances
    expected = [gaussian_tv(m, v, 0.0, 1.0) for m, v in zip(means, variances)]
    np.testing.assert_allclose(gaussian_tv_to_standard(means, variances), expected, atol=1e-9)


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario.fully_synthetic(30),
        Scenario.mixed(40, 0.3),
        Scenario(real=10, synthetic=30, initial=25),  # growing synthetic, its own initial size
        Scenario(real=5, synthetic=20, initial=40, accumulate=True),  # accumulating real and synthetic points
    ],
    ids=["fully_synthetic", "mixed", "growing", "accumulate_real_and_synthetic"],
)
def test_the_exact_chain_matches_the_simulated_loop_in_1d(scenario):
    assert max_abs_z(GAUSSIAN_1D, scenario, scenario, 12, seed=3) < LAW_Z


@pytest.mark.parametrize(
    "scenario", [Scenario.fully_synthetic(20), Scenario.mixed(24, 0.5)], ids=["synthetic", "mixed"]
)
def test_the_exact_chain_matches_the_simulated_loop_in_3d(scenario):
    """In d > 1 each chain's TV is one unbiased Monte Carlo point (the default); the loop's TV is exact."""
    assert max_abs_z(GAUSSIAN_3D, scenario, scenario, 5, seed=4, replicates=300) < LAW_Z


def test_the_chains_with_exact_tvs_agree_with_the_one_point_chains_and_the_loop_in_3d():
    """chain_tv="exact" (each chain's TV by the generalized chi-square law, no inner Monte Carlo) against the one-point
    chains and the loop; the control, the law of N = 30 in place of 20, is rejected by the same loop."""
    scenario = Scenario.fully_synthetic(20)
    exact = mle_expected_tv(GAUSSIAN_3D, scenario, 5, draws=400, seed=2, chain_tv="exact")
    point = mle_expected_tv(GAUSSIAN_3D, scenario, 5, draws=100_000, seed=2)
    assert exact.exact_tv and not point.exact_tv
    spread = np.sqrt(exact.standard_error**2 + point.standard_error**2)
    assert np.max(np.abs(exact.mean - point.mean) / spread) < LAW_Z
    tv = run_loop(GAUSSIAN_3D, GaussianMLE(), scenario, 5, replicates=300, seed=9).tv
    loop_error = tv.var(axis=0, ddof=1) / tv.shape[0]
    assert np.max(np.abs(tv.mean(axis=0) - exact.mean) / np.sqrt(exact.standard_error**2 + loop_error)) < LAW_Z
    wrong = mle_expected_tv(GAUSSIAN_3D, Scenario.fully_synthetic(30), 5, draws=400, seed=2, chain_tv="exact")
    assert np.max(np.abs(tv.mean(axis=0) - wrong.mean) / np.sqrt(wrong.standard_error**2 + loop_error)) > LAW_Z
    with pytest.raises(ValueError, match="chain_tv"):
        mle_expected_tv(GAUSSIAN_3D, scenario, 5, chain_tv="quadrature")


def test_negative_control_a_wrong_law_is_rejected():
    """The law of a loop with 20% more points per generation (N = 60), and of one with 40% real data in place of 50%,
    are rejected against the loop (N = 50 is at the limit: |z| 4.48 at these sizes)."""
    assert max_abs_z(GAUSSIAN_1D, Scenario.fully_synthetic(60), Scenario.fully_synthetic(50), 12, seed=5) > LAW_Z
    assert max_abs_z(GAUSSIAN_1D, Scenario.mixed(50, 0.4), Scenario.mixed(50, 0.5), 12, seed=5) > LAW_Z


def test_the_default_precision_and_its_limits():
    law = mle_expected_tv(GAUSSIAN_1D, Scenario.mixed(50, 0.5), 20)
    assert law.exact_tv and law.draws == 100_000
    assert np.all(law.standard_error <= 0.005 * law.mean)  # relative standard error at most 0.5%
    collapse = mle_expected_tv(GAUSSIAN_1D, Scenario.fully_synthetic(5), 60, draws=2000)
    assert collapse.mean[-1] > 0.95 and np.all(np.diff(collapse.mean) > -3 * collapse.standard_error[1:])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="scenario"):
        mle_expected_tv(GAUSSIAN_1D, Scenario.mixed(50, 0.5, reuse_real=True), 3)
    with pytest.raises(ValueError, match="truth"):
        mle_expected_tv(standard_truth("bimodal_1d"), Scenario.fully_synthetic(50), 3)
    with pytest.raises(ValueError, match="draws"):
        mle_expected_tv(GAUSSIAN_1D, Scenario.fully_synthetic(50), 3, draws=1)
    with pytest.raises(ValueError, match="generations"):
        mle_expected_tv(GAUSSIAN_1D, Scenario.fully_synthetic(50), -1)
    with pytest.raises(ValueError, match="points"):
        mle_expected_tv(GAUSSIAN_3D, Scenario.fully_synthetic(3), 3)


def test_the_quick_report_has_the_exact_law_claim(tmp_path):
    """The committed quick baseline carries the claim in every Gaussian MLE cell, each law holding, and the report gives
    it a row of the claims table (with mle_tv's ratio to the exact E TV) and a section."""
    import json
    from pathlib import Path

    from selfloop.reports import render

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    records = [
        cell["claims"]["mle_expected_tv"] for cell in baseline["cells"] if cell["spec"]["truth"] == "gaussian_1d"
    ]
    assert len(records) == 3 and all(record["verdicts"]["law"]["outcome"] == "held" for record in records)
    report = render(baseline, tmp_path).read_text()
    assert "| Gaussian MLE loop: the mean TV is the exact E TV_i" in report and "mle_tv / exact E TV: median" in report
    assert "## The Gaussian MLE loop: the exact E TV" in report
