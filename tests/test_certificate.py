"""Theorem G: the per-fit diffusion certificate is a bound on the sampler's TV, with a control that bites.

The certificate bounds TV(p̂, p0) for the Euler-Maruyama sampler's own law. The measured TV is that of the sampler's
grid density (exact to about 1e-9 by quadrature, up to the density's own discretisation, measured below 3e-4), so
"never below the measured TV" is asserted with the certificate's margin, which is far larger than that.
"""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import diffusion_certificate, ou_marginal
from selfloop.bounds.certificate import _Quadrature
from selfloop.simulators import GaussianMixture, RandomFeatureDiffusion, Scenario, run_loop, standard_truth, tv_quadrature
from selfloop.simulators.batched_diffusion import sde_densities
from selfloop.simulators.grid import Box

TRUTH = standard_truth("bimodal_1d")


def _fit(truth, size: int, width: int, steps: int, seed: int):
    model = RandomFeatureDiffusion(width=width, steps=steps)
    return model.fit(truth.sample(size, np.random.default_rng(seed)), np.random.default_rng(seed + 100))


@pytest.mark.parametrize("truth_name, size, width, steps", [("bimodal_1d", 400, 64, 40), ("bimodal_1d", 2000, 128, 200), ("skewed_1d", 1000, 96, 80)])
def test_the_certificate_is_never_below_the_measured_tv(truth_name, size, width, steps):
    truth = standard_truth(truth_name)
    for seed in range(2):
        fitted = _fit(truth, size, width, steps, seed)
        measured = tv_quadrature(truth, fitted)
        chain, path = diffusion_certificate(fitted, truth), diffusion_certificate(fitted, truth, method="path")
        assert measured < chain.tv <= path.tv * (1 + 1e-9), (measured, chain, path)  # the chain bound is the tighter
        assert chain.kl == pytest.approx(sum(chain.parts[k] for k in ("initialisation", "discretisation", "score", "cross")), rel=1e-12)
        assert chain.parts["score"] > 0 and chain.parts["discretisation"] > 0 and 0 < chain.parts["early_stopping"] < 0.01


def test_the_quadrature_does_not_move_when_the_step_is_halved():
    fitted = _fit(TRUTH, 1000, 128, 80, 3)
    coarse, fine = diffusion_certificate(fitted, TRUTH), diffusion_certificate(fitted, TRUTH, spacing_scale=0.5)
    assert fine.kl == pytest.approx(coarse.kl, rel=1e-4) and fine.tv == pytest.approx(coarse.tv, rel=1e-4)


class _ExactScoreSampler:
    """The model's sampler with the exact score grad log q_t of the truth in place of the network (for controls)."""

    def __init__(self, truth: GaussianMixture, steps: int) -> None:
        self.truth, self.dim, self.size = truth, truth.dim, 1
        self.fitted = _fit(truth, 200, 8, steps, 0)  # only its sampler settings (times, grid step) are used
        self.model = self.fitted.model

    def times(self) -> np.ndarray:
        return self.fitted.times()

    def score(self, y: np.ndarray, t: float) -> np.ndarray:
        quadrature = _Quadrature.__new__(_Quadrature)
        quadrature.points = y
        return quadrature.marginal(ou_marginal(self.truth, float(t)))[2]

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


def test_run_loop_certifies_every_run_and_generation():
    model = RandomFeatureDiffusion(width=64, steps=40)
    result = run_loop(TRUTH, model, Scenario.mixed(300, 0.5), generations=2, seed=1, replicates=3, certify=True)
    assert result.certificate.shape == (3, 3) and np.all(np.isfinite(result.certificate))
    assert np.all(result.tv < result.certificate)
    alone = diffusion_certificate(result.models[-1], TRUTH).tv
    assert result.certificate[-1, -1] == pytest.approx(alone, rel=1e-12)


def test_bad_input_is_refused_with_the_parameter_named():
    fitted = _fit(TRUTH, 200, 16, 20, 0)
    with pytest.raises(ValueError, match="method"):
        diffusion_certificate(fitted, TRUTH, method="girsanov")
    with pytest.raises(ValueError, match="reference"):
        diffusion_certificate(fitted, standard_truth("ring_2d"))
    with pytest.raises(ValueError, match="spacing_scale"):
        diffusion_certificate(fitted, TRUTH, spacing_scale=-1.0)
    ode = RandomFeatureDiffusion(width=16, steps=20, sampler="ode").fit(TRUTH.sample(200, np.random.default_rng(0)), np.random.default_rng(1))
    with pytest.raises(ValueError, match="fitted"):
        diffusion_certificate(ode, TRUTH)
    with pytest.raises(ValueError, match="certify"):
        run_loop(TRUTH, RandomFeatureDiffusion(width=16, steps=20, sampler="ode"), Scenario.mixed(100, 0.5), generations=1, certify=True)
    with pytest.raises(ValueError, match="reference"):
        diffusion_certificate(fitted, standard_truth("mixture3_10d"))
