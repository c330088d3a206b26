"""Theorem G: the per-fit diffusion certificate is a bound on the sampler's TV, with a control that bites.

The certificate bounds TV(p̂, p0) for the Euler-Maruyama sampler's own law. The measured TV is that of the sampler's
grid density (exact to about 1e-9 by quadrature, up to the density's own discretisation, measured below 3e-4), so
"never below the measured TV" is asserted with the certificate's margin, which is far larger than that.
"""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import TrainingDistribution, chain, diffusion_certificate, ou_marginal, ou_marginals
from selfloop.bounds.ou_marginals import _ou_mixture_values, mixture_values
from selfloop.simulators import (
    FittedSDEDiffusion,
    GaussianMixture,
    RandomFeatureDiffusion,
    Scenario,
    ScoreDiffusion,
    run_loop,
    standard_truth,
    tv_quadrature,
)
from selfloop.simulators.diffusion import sde_densities
from selfloop.simulators.grid import Box

TRUTH = standard_truth("bimodal_1d")


def _fit(truth, size: int, width: int, steps: int, seed: int):
    model = RandomFeatureDiffusion(width=width, steps=steps)
    return model.fit(truth.sample(size, np.random.default_rng(seed)), np.random.default_rng(seed + 100))


@pytest.mark.parametrize(
    "truth_name, size, width, steps",
    [("bimodal_1d", 400, 64, 40), ("bimodal_1d", 2000, 128, 200), ("skewed_1d", 1000, 96, 80)],
)
def test_the_certificate_is_never_below_the_measured_tv(truth_name, size, width, steps):
    truth = standard_truth(truth_name)
    for seed in range(2):
        fitted = _fit(truth, size, width, steps, seed)
        measured = tv_quadrature(truth, fitted)
        chain, path = diffusion_certificate(fitted, truth), diffusion_certificate(fitted, truth, method="path")
        assert measured < chain.tv <= path.tv * (1 + 1e-9), (measured, chain, path)  # the chain bound is the tighter
        assert chain.kl == pytest.approx(
            sum(chain.parts[k] for k in ("initialisation", "discretisation", "score", "cross")), rel=1e-12
        )
        assert (
            chain.parts["score"] > 0 and chain.parts["discretisation"] > 0 and 0 < chain.parts["early_stopping"] < 0.01
        )


def test_the_quadrature_does_not_move_when_the_step_is_halved():
    fitted = _fit(TRUTH, 1000, 128, 80, 3)
    coarse, fine = diffusion_certificate(fitted, TRUTH), diffusion_certificate(fitted, TRUTH, spacing_scale=0.5)
    assert fine.kl == pytest.approx(coarse.kl, rel=1e-4) and fine.tv == pytest.approx(coarse.tv, rel=1e-4)


def _certificate_pruned_at(fitted, truth, mass: float, monkeypatch):
    """The certificate with the 2-D quadrature's nodes below ``mass`` dropped (its caches cleared before and after)."""
    monkeypatch.setitem(ou_marginals._PRUNED_MASS, 2, mass)
    ou_marginals._TRUTH_MARGINALS.clear()
    chain._CHAIN_STEPS.clear()
    try:
        return diffusion_certificate(fitted, truth)
    finally:
        ou_marginals._TRUTH_MARGINALS.clear()
        chain._CHAIN_STEPS.clear()


def test_the_2d_quadrature_drops_only_nodes_that_the_certificate_cannot_see(monkeypatch):
    """The 2-D quadrature drops the nodes below 1e-12 of mass (about 45% of the ring's): against the nodes down to 1e-22
    the certificate moves by less than 1e-6 relative. Control: dropping the nodes below 1e-4 moves it by far more, so the
    comparison can see a cut that reaches the mass."""
    truth = standard_truth("ring_2d")
    fitted = _fit(truth, 500, 48, 20, 5)
    default = diffusion_certificate(fitted, truth)
    kept_all = _certificate_pruned_at(fitted, truth, 1e-22, monkeypatch)
    assert default.kl == pytest.approx(kept_all.kl, rel=1e-6) and default.tv == pytest.approx(kept_all.tv, rel=1e-6)
    cut_into_the_mass = _certificate_pruned_at(fitted, truth, 1e-4, monkeypatch)
    assert abs(cut_into_the_mass.kl - kept_all.kl) > 1e-3 * kept_all.kl


class _ExactScoreSampler(FittedSDEDiffusion):
    """The model's SDE sampler with the exact score grad log q_t of the truth in place of the network (for controls)."""

    def __init__(self, truth: GaussianMixture, steps: int) -> None:
        fitted = _fit(truth, 200, 8, steps, 0)  # only its sampler settings (times, grid step) are used
        super().__init__(fitted.model, fitted.weights, np.zeros((1, truth.dim)), None, 0.0, fitted.features)
        self.truth, self.size = truth, 1

    def score(self, y: np.ndarray, t: float) -> np.ndarray:
        return mixture_values(ou_marginal(self.truth, float(t)), y)[2]

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        """The interface :func:`sde_densities` calls: y (1, n, d) -> y + 2 grad log q_t(y), the same shape."""
        return y + 2 * self.score(y.reshape(-1, self.dim), t).reshape(y.shape)

    def sampler_tv(self) -> float:
        """TV between the exact-score sampler's law (its grid density) and the truth."""
        box = Box.union([self.truth.bounding_box(1e-12), Box(np.full(self.dim, -8.0), np.full(self.dim, 8.0))])
        ((grid, density, escaped, dropped),) = sde_densities(self, self.times(), [box], self.truth.grid_spacing / 2)
        assert escaped + dropped < 1e-6
        return 0.5 * grid.integrate_abs(density - grid.evaluate(self.truth))


def test_negative_control_the_certificate_without_its_discretisation_part_is_not_a_bound():
    """With the exact score at 40 steps the score part vanishes, and what is left without the discretisation part
    (early stopping alone) falls below the sampler's true TV: the control is rejected. The full certificate holds."""
    exact = _ExactScoreSampler(TRUTH, 40)
    sampler_tv = exact.sampler_tv()
    dropped = diffusion_certificate(exact, TRUTH, drop_discretisation=True)
    full = diffusion_certificate(exact, TRUTH)
    assert abs(full.parts["score"]) < 1e-20 and abs(full.parts["cross"]) < 1e-20
    assert dropped.tv < sampler_tv / 5, (dropped.tv, sampler_tv)  # rejected: far below the quantity it claims to bound
    assert full.tv > sampler_tv, (full.tv, sampler_tv)


def test_the_chain_bound_is_far_tighter_than_the_path_bound_at_few_steps():
    exact = _ExactScoreSampler(TRUTH, 40)
    chain, path = diffusion_certificate(exact, TRUTH), diffusion_certificate(exact, TRUTH, method="path")
    assert chain.parts["discretisation"] < path.parts["discretisation"] / 2


def test_run_loop_certifies_every_run_and_generation_and_the_one_step_errors():
    model = RandomFeatureDiffusion(width=64, steps=40)
    result = run_loop(
        TRUTH,
        model,
        Scenario.mixed(300, 0.5),
        generations=2,
        seed=1,
        replicates=3,
        measures=["certificate", "one_step"],
    )
    assert result.certificate.shape == (3, 3) and np.all(np.isfinite(result.certificate))
    assert np.all(result.tv < result.certificate)
    alone = diffusion_certificate(result.models[-1], TRUTH).tv
    assert result.certificate[-1, -1] == pytest.approx(alone, rel=1e-12)
    # Lemma R's eps_i = TV(p_i, q_i), certified against q_i = lambda p0 + (1 - lambda) p_{i-1}
    assert np.all(result.one_step < result.certified_one_step)
    np.testing.assert_allclose(result.certified_one_step[:, 0], result.certificate[:, 0], rtol=1e-12)
    reused = run_loop(
        TRUTH,
        model,
        Scenario.mixed(300, 0.5, reuse_real=True),
        generations=1,
        seed=1,
        replicates=2,
        measures=["certificate"],
    )
    assert np.all(np.isnan(reused.certified_one_step[:, 1])) and np.all(np.isfinite(reused.certificate))


def test_the_training_distribution_certificate_reduces_to_the_truth_at_lambda_one_and_is_stable():
    result = run_loop(
        TRUTH,
        RandomFeatureDiffusion(width=96, steps=80),
        Scenario.mixed(1000, 0.5),
        generations=1,
        seed=2,
        measures=["one_step"],
    )
    previous, current = result.models
    direct = diffusion_certificate(current, TRUTH)
    real_only = diffusion_certificate(current, TrainingDistribution(TRUTH, previous, 1.0))
    assert real_only.kl == pytest.approx(direct.kl, rel=1e-9) and real_only.tv == pytest.approx(direct.tv, rel=1e-6)
    mixed = diffusion_certificate(current, TrainingDistribution(TRUTH, previous, 0.5))
    finer = diffusion_certificate(current, TrainingDistribution(TRUTH, previous, 0.5), spacing_scale=0.5)
    assert result.one_step[0, 1] < mixed.tv and finer.tv == pytest.approx(
        mixed.tv, rel=5e-3
    )  # the grid part is binned: 0.15%
    path = diffusion_certificate(current, TrainingDistribution(TRUTH, previous, 0.5), method="path")
    assert mixed.tv <= path.tv
    with pytest.raises(ValueError, match="real_fraction"):
        TrainingDistribution(TRUTH, previous, 1.5)
    with pytest.raises(ValueError, match="previous"):  # a mixture of anything, but the certificate needs a grid density
        diffusion_certificate(current, TrainingDistribution(TRUTH, object(), 0.5))


def test_bad_input_is_refused_with_the_parameter_named():
    fitted = _fit(TRUTH, 200, 16, 20, 0)
    with pytest.raises(ValueError, match="method"):
        diffusion_certificate(fitted, TRUTH, method="girsanov")
    with pytest.raises(ValueError, match="reference"):
        diffusion_certificate(fitted, standard_truth("ring_2d"))
    with pytest.raises(ValueError, match="spacing_scale"):
        diffusion_certificate(fitted, TRUTH, spacing_scale=-1.0)
    ode = RandomFeatureDiffusion(width=16, steps=20, sampler="ode").fit(
        TRUTH.sample(200, np.random.default_rng(0)), np.random.default_rng(1)
    )
    with pytest.raises(ValueError, match="fitted"):
        diffusion_certificate(ode, TRUTH)
    with pytest.raises(ValueError, match="certificate"):
        run_loop(
            TRUTH,
            RandomFeatureDiffusion(width=16, steps=20, sampler="ode"),
            Scenario.mixed(100, 0.5),
            generations=1,
            measures=["certificate"],
        )
    with pytest.raises(ValueError, match="reference"):
        diffusion_certificate(fitted, standard_truth("mixture3_10d"))


def test_the_monte_carlo_path_bound_agrees_with_its_quadrature_and_serves_d_above_two():
    """d > 2: the path bound by Monte Carlo over exact forward pairs. In 1-D it is checked against the quadrature path
    bound: after its 3-standard-error margin is taken off, the two KLs differ by less than 4 standard errors."""
    from selfloop.bounds.certificate import _monte_carlo_path_certificate
    from selfloop.bounds.kde import MONTE_CARLO_MARGIN

    fitted = _fit(TRUTH, 1000, 96, 40, 0)
    exact = diffusion_certificate(fitted, TRUTH, method="path")
    sampled = _monte_carlo_path_certificate(fitted, TRUTH, fitted.times(), 4000, np.random.default_rng(0))
    assert 0 < sampled.kl_stderr < 0.01 * exact.kl
    assert abs(sampled.kl - MONTE_CARLO_MARGIN * sampled.kl_stderr - exact.kl) < 4 * sampled.kl_stderr
    assert sampled.kl > exact.kl - sampled.kl_stderr  # the margin makes it an upper confidence value
    truth = standard_truth("mixture3_10d")
    fitted = RandomFeatureDiffusion(width=32, steps=20).fit(
        truth.sample(300, np.random.default_rng(0)), np.random.default_rng(1)
    )
    certificate = diffusion_certificate(fitted, truth, samples=500)
    assert certificate.method == "path" and certificate.kl_stderr > 0 and 0 < certificate.tv <= 1
    with pytest.raises(ValueError, match="method"):
        diffusion_certificate(fitted, truth, method="chain")


def test_the_batched_1d_convolutions_are_the_separate_ones_and_do_not_depend_on_the_batch():
    """The training distribution's density and score numerator at many times come from one transform of the masses:
    each row equals the two separate FFT convolutions of :func:`convolve` to rounding (1e-13 of the largest value),
    and a row computed alone is the row computed in a batch to 1e-15 of the largest value (every transform has one
    length; only the FFT's vectorisation over rows differs), so a certificate does not depend on which times were asked
    for together beyond rounding."""
    from selfloop.bounds.grid_convolution import convolve, convolve_pairs_1d
    from selfloop.simulators import Grid

    rng = np.random.default_rng(0)
    for _ in range(20):
        size, step = int(rng.integers(5, 2000)), float(rng.uniform(0.001, 0.2))
        grid, values = Grid(np.array([-1.0]), np.array([step]), (size,)), rng.random((6, size))
        variances = rng.uniform(1e-4, 2, size=6)
        density, derivative = convolve_pairs_1d(values, step, variances)
        for row, variance in enumerate(variances):
            expected = convolve(values[row], grid, variance)
            expected_derivative = convolve(values[row], grid, variance, derivative_axis=0)
            assert np.allclose(density[row], expected, rtol=0, atol=1e-13 * np.abs(expected).max())
            assert np.allclose(
                derivative[row], expected_derivative, rtol=0, atol=1e-13 * np.abs(expected_derivative).max()
            )
            alone = convolve_pairs_1d(values[row : row + 1], step, variances[row : row + 1])
            assert np.allclose(alone[0][0], density[row], rtol=0, atol=1e-15 * np.abs(expected).max())
            assert np.allclose(alone[1][0], derivative[row], rtol=0, atol=1e-15 * np.abs(expected_derivative).max())


def test_the_kept_kernel_transforms_give_what_computing_them_again_gives():
    """Every fit's training distribution asks for the same kernels (one quadrature, one set of chain times), so their
    transforms are kept: a second call returns the kept arrays and the same convolutions bit for bit as a call after
    the store is emptied; the store stays bounded. Control: another variance gives another transform."""
    from selfloop.bounds import grid_convolution
    from selfloop.bounds.grid_convolution import _KEPT_KERNELS, _kernel_transforms, convolve_pairs_1d

    rng = np.random.default_rng(2)
    values, variances = rng.random((5, 700)), rng.uniform(1e-3, 1.0, size=5)
    first = convolve_pairs_1d(values, 0.02, variances)
    kept = _kernel_transforms(0.02, variances, 700, 2100)
    assert _kernel_transforms(0.02, variances, 700, 2100) is kept
    grid_convolution._KERNEL_TRANSFORMS.clear()
    again = convolve_pairs_1d(values, 0.02, variances)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = variances.copy()
    other[0] *= 1.01
    assert not np.array_equal(_kernel_transforms(0.02, other, 700, 2100)[0], kept[0])
    for k in range(2 * _KEPT_KERNELS):
        _kernel_transforms(0.02, variances + k, 50, 150)
    assert len(grid_convolution._KERNEL_TRANSFORMS) <= _KEPT_KERNELS


def test_the_batched_marginal_values_are_those_of_one_time_at_a_time():
    """The truth's OU marginals at many times at once (:func:`_ou_mixture_values`, elementwise over times and
    components in 1-D) are :func:`mixture_values` of each :func:`ou_marginal` to 1e-13 relative, in 1-D and 2-D, in
    batches smaller and larger than the times asked for; the control, one time shifted by 1e-6, is seen."""

    rng = np.random.default_rng(1)
    for name in ("bimodal_1d", "skewed_1d", "ring_2d"):
        truth = standard_truth(name)
        x = 3 * rng.normal(size=(700, truth.dim))
        times = np.concatenate([[0.0], np.sort(rng.uniform(1e-5, 8.0, size=30))])
        for batch in (1, 1 << 15, 1 << 22):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(ou_marginals, "_BATCHED_VALUES", batch)
                values = list(_ou_mixture_values(truth, times, x))
            assert len(values) == times.size
            for t, got in zip(times, values):
                for computed, expected in zip(got, mixture_values(ou_marginal(truth, t), x)):
                    assert computed.shape == expected.shape
                    assert np.allclose(computed, expected, rtol=1e-13, atol=1e-300)
        shifted = next(_ou_mixture_values(truth, times[-1:] + 1e-6, x))[2]
        assert not np.allclose(shifted, mixture_values(ou_marginal(truth, times[-1]), x)[2], rtol=1e-13, atol=1e-300)


def _shifted_sampler_kl(times: np.ndarray, shift: float) -> float:
    r"""KL(N(0, 1) ‖ p̂) for the Euler-Maruyama sampler with the score :math:`-y + m e^{-t}` started at N(0, 1): the
    chain :math:`y \leftarrow (1 - \Delta) y + 2\Delta m e^{-t_k} + \sqrt{2\Delta}\,\xi` is linear and Gaussian, so its
    law is :math:`N(\mu, v)` with the mean and variance recursions below, exactly."""
    mean, variance = 0.0, 1.0
    for start, step in zip(times[:-1], -np.diff(times)):
        mean = (1 - step) * mean + 2 * step * shift * np.exp(-start)
        variance = (1 - step) ** 2 * variance + 2 * step
    return 0.5 * ((1 + mean**2) / variance - 1 + np.log(variance))


def test_the_path_bound_is_the_drift_energy_with_equality_for_a_gaussian_mean_shift():
    r"""Khelifa et al.'s Proposition 3.1 (arXiv:2602.16601) on the harness's path bound: the KL is at most the drift
    energy, with equality for a Gaussian mean shift.

    q = N(0, 1) is stationary under the forward process (q_t = q: the initialisation and early-stopping parts are 0),
    and the score :math:`-y + m e^{-t}` is the exact score of N(m, 1)'s marginals, off q's by the constant
    :math:`m e^{-t}`. The sampler's law is Gaussian and known exactly (:func:`_shifted_sampler_kl`). Then (i) both KL
    bounds hold at every step count, (ii) the path bound's score part is the drift energy on the sampler's grid,
    :math:`\sum_k \Delta_k m^2 e^{-2t_k}`, (iii) the sampler's KL equals that energy to 1e-4 at 1000 steps (equality)
    and both tend to :math:`m^2(e^{-2t_0} - e^{-2T})/2`, while the path bound's discretisation part falls as 1/steps.
    Negative control: Proposition 3.1 with its constant halved (KL <= energy / 2) is violated."""
    truth, shift = GaussianMixture([1.0], [[0.0]], [[[1.0]]]), 0.6
    discretisation, gap = [], []
    for steps in (250, 1000):
        fit = ScoreDiffusion(lambda data, rng: lambda x, t: -x + shift * np.exp(-t), steps=steps).fit(
            np.full((8, 1), shift), np.random.default_rng(0)
        )
        times = fit.times()
        exact = _shifted_sampler_kl(times, shift)
        path = diffusion_certificate(fit, truth, method="path")
        chain = diffusion_certificate(fit, truth, method="chain")
        assert path.parts["initialisation"] == pytest.approx(0.0, abs=1e-12) and path.parts["early_stopping"] == 0.0
        assert exact <= path.kl * (1 + 1e-9) and exact <= chain.kl * (1 + 1e-9)  # (i)
        energy = float(np.sum(-np.diff(times) * shift**2 * np.exp(-2 * times[:-1])))
        assert path.parts["score"] == pytest.approx(energy, rel=1e-9)  # (ii)
        assert exact > energy / 2  # the halved constant is violated
        discretisation.append(path.parts["discretisation"])
        gap.append(abs(exact / energy - 1))
    assert gap[-1] < 1e-4  # (iii): equality for the mean shift
    limit = shift**2 * (np.exp(-2 * times[-1]) - np.exp(-2 * times[0])) / 2
    assert energy == pytest.approx(limit, rel=0.01) and exact == pytest.approx(limit, rel=0.01)
    assert 3.5 < discretisation[0] / discretisation[1] < 4.5  # the price of freezing the drift, O(1 / steps)
