"""Your own diffusion model (ScoreDiffusion): the same sampler, density and certificate as the random-feature model,
for any score the user trains; the boundary checks of the user's score; the MLP worked example certified per run."""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import diffusion_certificate, ou_marginal
from selfloop.reports.verdicts import per_run_verdict
from selfloop.simulators import RandomFeatureDiffusion, Scenario, ScoreDiffusion, run_loop, standard_truth
from selfloop.simulators.diffusion import DenoisingMLP, FittedScoreDiffusion

BIMODAL = standard_truth("bimodal_1d")


def exact_score(truth):
    """``fit_score`` of the oracle: the exact score of the forward marginal q_t, whatever the data."""
    return lambda data, rng: lambda x, t: ou_marginal(truth, t).score(x)


def test_mixture_score_is_the_gradient_of_its_log_density():
    """GaussianMixture.score against central differences of logpdf, in 1-D and in 2-D."""
    step = 1e-6
    for name in ("bimodal_1d", "ring_2d"):
        truth = standard_truth(name)
        x = 1.5 * np.random.default_rng(0).standard_normal((20, truth.dim))
        numeric = np.stack(
            [(truth.logpdf(x + step * e) - truth.logpdf(x - step * e)) / (2 * step) for e in np.eye(truth.dim)], axis=1
        )
        np.testing.assert_allclose(truth.score(x), numeric, atol=1e-6)


def test_a_random_feature_score_wrapped_is_the_random_feature_model():
    """The random-feature model is one implementation of the protocol: its score, handed to ScoreDiffusion, gives the
    same samples, the same grid density and the same certificate (to rounding)."""
    data = BIMODAL.sample(300, np.random.default_rng(0))
    network = RandomFeatureDiffusion(width=64, steps=30).fit(data, np.random.default_rng(1))
    wrapped = ScoreDiffusion(lambda data, rng: network.score, steps=30).fit(data, np.random.default_rng(1))
    np.testing.assert_array_equal(wrapped.times(), network.times())
    np.testing.assert_allclose(
        wrapped.sample(500, np.random.default_rng(2)), network.sample(500, np.random.default_rng(2)), rtol=1e-10
    )
    grid, density = network.density_grid()
    wrapped_grid, wrapped_density = wrapped.density_grid()
    np.testing.assert_allclose(wrapped_grid.lower, grid.lower)
    np.testing.assert_allclose(wrapped_density, density, rtol=1e-9, atol=1e-12)
    assert diffusion_certificate(wrapped, BIMODAL).tv == pytest.approx(
        diffusion_certificate(network, BIMODAL).tv, rel=1e-9
    )


def test_the_exact_score_loop_is_certified_in_1d_and_2d():
    """The oracle's every run is under its certificate, and the certificate is not vacuous (below 1)."""
    for name, steps, generations in (("bimodal_1d", 40, 1), ("ring_2d", 20, 0)):
        truth = standard_truth(name)
        model = ScoreDiffusion(exact_score(truth), steps=steps)
        scenario = Scenario(real=100, synthetic=100)
        result = run_loop(
            truth, model, scenario, generations=generations, replicates=2, seed=0, measures=["certificate"]
        )
        assert per_run_verdict(result.tv, result.certificate)["outcome"] == "held"
        assert np.all(result.certificate < 1.0)


@pytest.mark.parametrize(
    "score, message",
    [
        (lambda x, t: x[:, :0], "shape"),
        (lambda x, t: np.full_like(x, np.nan), "non-finite"),
        (lambda x, t: np.zeros(x.shape[0]), "shape"),
    ],
)
def test_a_wrong_score_is_a_clear_error(score, message):
    data = BIMODAL.sample(50, np.random.default_rng(0))
    with pytest.raises(ValueError, match=f"score.*{message}"):
        ScoreDiffusion(lambda data, rng: score, steps=10).fit(data, np.random.default_rng(0))


def test_a_score_that_breaks_later_is_caught_where_it_breaks():
    """A score finite at the probe times but not in between fails at the sampler's step, naming score."""
    data = BIMODAL.sample(50, np.random.default_rng(0))
    model = ScoreDiffusion(lambda data, rng: lambda x, t: -x if t > 5 or t < 2e-3 else x / 0.0, steps=10)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = model.fit(data, np.random.default_rng(0))
        with pytest.raises(ValueError, match="score.*non-finite"):
            fit.sample(10, np.random.default_rng(1))


def test_bad_settings_name_their_parameter():
    with pytest.raises(ValueError, match="fit_score"):
        ScoreDiffusion("not a function")
    with pytest.raises(ValueError, match="stopping_time"):
        ScoreDiffusion(exact_score(BIMODAL), stopping_time=-1.0)
    with pytest.raises(ValueError, match="t0 must be < horizon"):
        ScoreDiffusion(exact_score(BIMODAL), stopping_time=20.0)
    with pytest.raises(ValueError, match="score: fit_score must return a callable"):
        ScoreDiffusion(lambda data, rng: 3.0).fit(
            BIMODAL.sample(10, np.random.default_rng(0)), np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="rng"):
        ScoreDiffusion(exact_score(BIMODAL)).fit(BIMODAL.sample(10, np.random.default_rng(0)), 3)
    with pytest.raises(ValueError, match="hidden"):
        DenoisingMLP(hidden=())


def test_the_mlp_score_network_is_certified_and_the_check_rejects_a_false_bound():
    """The worked example: an MLP trained by denoising score matching (scikit-learn), in the loop with every fit
    certified. Negative control: the certificate's early-stopping part alone, not a bound, is rejected."""
    model = ScoreDiffusion(DenoisingMLP((32, 32), epochs=30), steps=40)
    result = run_loop(
        BIMODAL, model, Scenario(real=150, synthetic=150), generations=1, replicates=3, seed=1, measures=["certificate"]
    )
    fits_certified = per_run_verdict(result.tv, result.certificate)
    assert fits_certified["outcome"] == "held" and fits_certified["runs"] == 3
    assert np.all(result.certificate < 1.0)  # informative, not the trivial bound
    fit = model.fit(BIMODAL.sample(300, np.random.default_rng(4)), np.random.default_rng(5))
    assert isinstance(fit, FittedScoreDiffusion)
    certificate = diffusion_certificate(fit, BIMODAL)
    assert set(certificate.parts) == {"initialisation", "discretisation", "score", "cross", "early_stopping"}
    assert certificate.parts["score"] > 0  # a learned score has an error the certificate pays for
    early_stopping_only = np.full_like(result.tv, certificate.parts["early_stopping"])
    assert per_run_verdict(result.tv, early_stopping_only)["outcome"] == "refuted"
