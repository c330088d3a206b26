"""The linear-regression loop: OLS as a conditional generative model in run_loop, its exact risk law in the replace
and the accumulate loop against simulation on settings no suite uses, wrong laws rejected, and the closed-form TV."""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import regression_risk_law
from selfloop.reports.verdicts import LAW_Z
from selfloop.simulators import (
    Execution,
    LinearRegression,
    Scenario,
    regression_truth,
    regression_tv,
    run_loop,
    tv_monte_carlo,
)

WEIGHTS = np.array([0.5, -1.0, 2.0])  # d = 3, not the suites' truth
TRUTH = regression_truth(WEIGHTS, noise=0.7)


def risk_z(law: np.ndarray, scenario: Scenario, generations: int, seed: int) -> float:
    result = run_loop(
        TRUTH,
        LinearRegression(0.7),
        scenario,
        generations=generations,
        replicates=2000,
        seed=seed,
        execution=Execution(measure_tv=False),
    )
    risk = np.sum((result.parameters["weights"] - WEIGHTS) ** 2, axis=2)
    return float(np.max(np.abs(risk.mean(axis=0) - law) / (risk.std(axis=0, ddof=1) / np.sqrt(risk.shape[0]))))


@pytest.mark.parametrize("accumulate", [False, True], ids=["replace", "accumulate"])
def test_the_risk_law_matches_the_loop(accumulate):
    samples, generations = 12, 8
    scenario = Scenario.accumulating(samples, samples) if accumulate else Scenario.fully_synthetic(samples)
    law = regression_risk_law(3, samples, 0.7, generations, accumulate=accumulate)
    assert risk_z(law, scenario, generations, seed=1) < LAW_Z


def test_negative_controls_wrong_laws_are_rejected():
    """The replace law for the accumulate loop, and the replace law with T - d in place of T - d - 1 (the
    inverse-Wishart mean mistaken for the Gaussian's 1/T per direction, less the fit), are both rejected."""
    samples, generations = 12, 8
    accumulating = Scenario.accumulating(samples, samples)
    assert risk_z(regression_risk_law(3, samples, 0.7, generations), accumulating, generations, seed=2) > LAW_Z
    off_by_one = (np.arange(generations + 1) + 1) * 0.7**2 * 3 / (samples - 3)
    assert risk_z(off_by_one, Scenario.fully_synthetic(samples), generations, seed=2) > LAW_Z


def test_the_accumulate_law_stays_below_the_published_bound_and_replace_grows_linearly():
    accumulate = regression_risk_law(5, 50, 1.0, 500, accumulate=True)
    single = 5 / (50 - 5 - 1)
    assert np.all(np.diff(accumulate) > 0) and accumulate[-1] < single * np.pi**2 / 6
    np.testing.assert_allclose(regression_risk_law(5, 50, 1.0, 4), single * np.arange(1, 6))


def test_the_closed_form_tv_is_the_joint_laws_tv():
    """(2/pi) arctan(|w - w*| / (2 sigma)) against the unbiased Monte Carlo TV of the two joint Gaussians."""
    rng = np.random.default_rng(0)
    for shift in (0.1, 0.8, 3.0):
        weights = WEIGHTS + shift * rng.standard_normal(3) / np.sqrt(3)
        estimate = tv_monte_carlo(TRUTH, regression_truth(weights, 0.7), 400_000, rng)
        assert abs(estimate.value - regression_tv(weights, WEIGHTS, 0.7)) < 4 * estimate.stderr + 1e-9


def test_bad_input_names_its_parameter():
    with pytest.raises(ValueError, match="noise"):
        LinearRegression(noise=-1.0)
    with pytest.raises(ValueError, match="samples"):
        regression_risk_law(5, 6, 1.0, 3)
    with pytest.raises(ValueError, match="data"):
        LinearRegression().fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="data"):
        LinearRegression().fit(np.ones((10, 4)))  # a singular design


def test_the_quick_report_checks_both_regression_loops(tmp_path):
    """The committed quick baseline holds the law in its replace and accumulate cells; the claims table has a row
    each, whose cells are not broken by the absolute value bars of the formula."""
    import json
    from pathlib import Path

    from selfloop.reports import render

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    records = [cell["claims"]["regression_risk"] for cell in baseline["cells"] if "regression_risk" in cell["claims"]]
    assert len(records) == 2 and all(record["verdicts"]["law"]["outcome"] == "held" for record in records)
    rows = [line for line in render(baseline, tmp_path).read_text().splitlines() if line.startswith("| Regression, ")]
    assert len(rows) == 2 and all(row.count("|") == 7 for row in rows)
