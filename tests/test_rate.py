"""Li et al.'s rate on its own quantity: the integrated score error and the fit of its exponents, with controls."""

from __future__ import annotations

import numpy as np
import pytest

from selfloop.bounds import LI_EXPONENTS, diffusion_certificate, fit_rate, integrated_score_error
from selfloop.simulators import RandomFeatureDiffusion, standard_truth

SIZES, WIDTHS = np.repeat([250, 1000, 4000], 3), np.tile([64, 128, 256], 3)


def _synthetic_errors(size_exponent: float, width_exponent: float, seed: int, noise: float = 0.1, replicates: int = 4):
    rng = np.random.default_rng(seed)
    return [
        (2 * n**-size_exponent + 5 * m**-width_exponent) * rng.lognormal(0, noise, replicates)
        for n, m in zip(SIZES, WIDTHS)
    ]


def test_the_fit_recovers_known_exponents_and_its_intervals_cover_them():
    """Over 12 synthetic data sets with Li's exponents, the 90% intervals cover them at least 9 times each (the
    binomial probability of fewer under 90% coverage is below 0.03)."""
    covered = np.zeros(2, dtype=int)
    for seed in range(12):
        fitted = fit_rate(SIZES, WIDTHS, _synthetic_errors(*LI_EXPONENTS, seed))
        covered += [
            fitted.size_interval[0] <= 0.4 <= fitted.size_interval[1],
            fitted.width_interval[0] <= 0.8 <= fitted.width_interval[1],
        ]
    assert np.all(covered >= 9), covered


def test_negative_control_a_slower_rate_is_called_slower():
    """Data decaying as N^-0.1 are declared slower than the claimed N^-0.4; the width exponent stays consistent."""
    fitted = fit_rate(SIZES, WIDTHS, _synthetic_errors(0.1, 0.8, seed=3, noise=0.05))
    assert fitted.size_interval[1] < 0.4 and "N^-0.4 excluded: slower than claimed" in fitted.verdict()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="sizes and widths"):
        fit_rate([250, 250, 1000, 1000], [64, 128, 256, 512], _synthetic_errors(0.4, 0.8, 0)[:4])
    with pytest.raises(ValueError, match="errors"):
        fit_rate(SIZES, WIDTHS, [np.array([1.0])] * 9)
    with pytest.raises(ValueError, match="one entry per setting"):
        fit_rate(SIZES, WIDTHS[:-1], _synthetic_errors(0.4, 0.8, 0))


def test_the_score_error_is_the_path_bounds_score_part_and_falls_with_the_width():
    truth = standard_truth("bimodal_1d")
    fits = [
        RandomFeatureDiffusion(width=width, steps=40).fit(
            truth.sample(2000, np.random.default_rng(0)), np.random.default_rng(1)
        )
        for width in (16, 256)
    ]
    errors = [integrated_score_error(fit, truth) for fit in fits]
    assert errors[0] == pytest.approx(diffusion_certificate(fits[0], truth, method="path").parts["score"], rel=1e-10)
    assert errors[1] < errors[0] / 2  # a much wider network learns the score much better


def test_the_certificates_by_product_is_the_integrated_score_error():
    truth = standard_truth("skewed_1d")
    fitted = RandomFeatureDiffusion(width=64, steps=80).fit(
        truth.sample(500, np.random.default_rng(2)), np.random.default_rng(3)
    )
    assert diffusion_certificate(fitted, truth).score_error == pytest.approx(
        integrated_score_error(fitted, truth), rel=1e-10
    )
