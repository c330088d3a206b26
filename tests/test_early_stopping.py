"""The diffusion loop's early-stopping limit: the ideal loop's closed form against its recursion and its limit, and
the exact-score sampler against the ideal loop within Theorem G's initialisation and discretisation parts."""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import diffusion_certificate, early_stopping_limit, ou_marginal, tv_from_kl
from selfloop.simulators import GaussianMixture, ScoreDiffusion, standard_truth, tv_quadrature

BIMODAL = standard_truth("bimodal_1d")


def training(truth, ideal, generation: int, real_fraction: float) -> GaussianMixture:
    """q_i = lambda p0 + (1 - lambda) p_{i-1} of the ideal loop (p0 at generation 0)."""
    if generation == 0:
        return truth
    return GaussianMixture.combine([(real_fraction, truth), (1 - real_fraction, ideal.generations[generation - 1])])


@pytest.mark.parametrize("real_fraction", [0.0, 0.3, 1.0])
def test_each_generation_is_the_kernel_applied_to_its_training_distribution(real_fraction):
    """p_i = K_t0 q_i: the closed form against one step of the recursion, on a grid."""
    ideal = early_stopping_limit(BIMODAL, 0.05, real_fraction, 4)
    x = np.linspace(-6, 6, 301)[:, None]
    for generation in range(5):
        q = training(BIMODAL, ideal, generation, real_fraction)  # built here, independently of ideal.training
        np.testing.assert_allclose(ideal.training[generation].pdf(x), q.pdf(x), rtol=1e-12, atol=1e-15)
        stepped = ou_marginal(q, 0.05)
        np.testing.assert_allclose(ideal.generations[generation].pdf(x), stepped.pdf(x), rtol=1e-10, atol=1e-14)


def test_the_loop_converges_geometrically_to_its_limit_and_floor():
    """TV(p_i, p_inf) <= (1 - lambda)^i (+ the truncation), the TV to p0 rises to the floor, and fully synthetic the
    limit is N(0, I)."""
    ideal = early_stopping_limit(BIMODAL, 0.05, 0.3, 12)
    for generation, law in enumerate(ideal.generations):
        assert tv_quadrature(law, ideal.limit) <= 0.7**generation + ideal.tail_mass + 1e-9
    assert np.all(np.diff(ideal.tv) > 0) and ideal.tv[-1] <= ideal.floor + ideal.tail_mass
    synthetic = early_stopping_limit(BIMODAL, 0.05, 0.0, 2)
    standard = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    assert synthetic.floor == pytest.approx(tv_quadrature(standard, BIMODAL), abs=1e-9)


@pytest.mark.parametrize(
    "name, steps, generations", [("bimodal_1d", 40, (0, 1, 2)), ("bimodal_1d", 8, (0, 1, 2)), ("ring_2d", 20, (0, 1))]
)
def test_the_exact_score_sampler_is_the_ideal_loop_up_to_its_certified_kl(name, steps, generations):
    """The SDE sampler with the exact score of q_i, stopped at t0, against the ideal p_i = K_t0 q_i: their TV is at most
    min(sqrt(KL/2), sqrt(1 - e^-KL)) with Theorem G's KL, here its initialisation and discretisation parts alone (the
    score part is 0; in 2-D generations 0 and 1, each a certificate of seconds). Negative control: without the
    discretisation part the bound is 0, and the sampler's TV is not."""
    truth, stopping_time, real_fraction = standard_truth(name), 0.05, 0.5
    ideal = early_stopping_limit(truth, stopping_time, real_fraction, 2)
    for generation in generations:
        q = training(truth, ideal, generation, real_fraction)
        model = ScoreDiffusion(lambda data, rng: lambda x, t: ou_marginal(q, t).score(x), steps, stopping_time)
        fit = model.fit(truth.sample(20, np.random.default_rng(0)), np.random.default_rng(1))
        distance = tv_quadrature(fit, ideal.generations[generation])
        certificate = diffusion_certificate(fit, q)
        assert certificate.parts["score"] == pytest.approx(0.0, abs=1e-12)
        kl = certificate.parts["initialisation"] + certificate.parts["discretisation"]
        assert distance <= tv_from_kl(kl)
        assert distance > 1e-3  # what dropping the discretisation part (a bound of 0) would call a violation
        if generation == 0:  # the certificate's early-stopping part is the ideal loop's TV at generation 0, both by
            # quadrature on grids of their own (2-D: 1e-6 apart)
            assert certificate.parts["early_stopping"] == pytest.approx(ideal.tv[0], abs=1e-5)


def test_bad_input_names_its_parameter():
    with pytest.raises(ValueError, match="stopping_time"):
        early_stopping_limit(BIMODAL, 0.0, 0.5, 2)
    with pytest.raises(ValueError, match="real_fraction"):
        early_stopping_limit(BIMODAL, 0.01, 1.5, 2)
    with pytest.raises(ValueError, match="real_fraction"):
        early_stopping_limit(BIMODAL, 0.01, 1e-9, 2)
    with pytest.raises(ValueError, match="generations"):
        early_stopping_limit(BIMODAL, 0.01, 0.5, -1)


def test_the_claim_checks_the_quick_suites_diffusion_loops_and_its_control_is_refuted(tmp_path):
    """The claim early_stopping in the committed quick baseline: both 1-D diffusion loop cells (mixed and fully
    synthetic) carry it, the exact-score sampler within its allowance at every generation, the floor and the ideal TV
    below the loop's mean TV; the report gives it a row and a section. Control: the allowance without the discretisation
    part is refuted by the same rule."""
    import json
    from pathlib import Path

    from selfloop.reports import CLAIMS, render
    from selfloop.reports.cells import CellSpec
    from selfloop.reports.claims import Cell
    from selfloop.reports.claims.early_stopping import ideal_loop_check
    from selfloop.reports.models import build_model

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    chosen = [cell for cell in baseline["cells"] if "early_stopping" in (cell.get("claims") or {})]
    assert {cell["spec"]["scenario"]["kind"] for cell in chosen} == {"mixed_fresh", "fully_synthetic"}
    for cell in chosen:
        values = cell["claims"]["early_stopping"]["values"]
        assert cell["claims"]["early_stopping"]["verdicts"]["sampler"]["outcome"] == "held"
        assert np.all(np.asarray(values["ideal_tv"]) <= values["floor"][0] + 1e-9)
        assert np.all(np.asarray(values["ideal_tv"]) < np.asarray(values["measured"]))
    report = render(baseline, tmp_path).read_text()
    assert "| Diffusion: the exact-score sampler reaches the ideal loop" in report
    assert "## The early-stopping limit" in report
    spec = CellSpec.from_dict(chosen[0]["spec"])
    model, generations = build_model(spec.model), spec.generations
    control = ideal_loop_check(
        BIMODAL,
        model.t0,
        spec.scenario.real_fraction,
        generations,
        model.steps,
        model.horizon,
        drop_discretisation=True,
    )
    cell = Cell(spec, np.full((2, generations + 1), 0.1), np.ones(generations + 1), np.ones(generations + 1))
    assert CLAIMS["early_stopping"].decide(control, cell)["sampler"]["outcome"] == "refuted"
