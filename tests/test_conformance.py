"""Model conformance checks (selfloop.testing.conformance): every built-in model passes, broken models fail."""

import numpy as np
import pytest

from selfloop.simulators import KDE, FittedKDE, GaussianMLE, RandomFeatureDiffusion, standard_truth
from selfloop.testing.conformance import (
    check_density_integrates_to_one,
    check_fit_is_deterministic,
    check_model,
    check_samples_match_pdf,
)

BUILT_IN = {
    "kde-1d": (KDE(0.3), "bimodal_1d"),
    "kde-2d": (KDE(0.4), "ring_2d"),
    "kde-scott": (KDE("scott"), "skewed_1d"),
    "mle": (GaussianMLE(), "bimodal_1d"),
    "diffusion": (RandomFeatureDiffusion(width=32, steps=40), "bimodal_1d"),
}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_model_conforms(name):
    model, truth = BUILT_IN[name]
    check_model(model, standard_truth(truth))


class _Inflated(FittedKDE):
    """A KDE whose density is 3% too large everywhere."""

    def pdf(self, x):
        return 1.03 * super().pdf(x)

    def grid_pdf(self, grid):
        return 1.03 * super().grid_pdf(grid)


class _ShiftedSampler(FittedKDE):
    """A KDE whose sampler is off by a tenth of its bandwidth."""

    def sample(self, n, rng):
        return super().sample(n, rng) + 0.1 * self.bandwidth * 3


class _Restless:
    """A model that ignores the rng it is given."""

    def fit(self, data, rng=None):
        return FittedKDE(data + np.random.default_rng().normal(0, 0.01, data.shape), 0.3)


def test_broken_models_fail_the_check_that_concerns_them():
    data = standard_truth("bimodal_1d").sample(500, np.random.default_rng(0))
    with pytest.raises(AssertionError, match="integrates to 1.03"):
        check_density_integrates_to_one(_Inflated(data, 0.3))
    with pytest.raises(AssertionError, match="do not match the pdf"):
        check_samples_match_pdf(_ShiftedSampler(data, 0.3), np.random.default_rng(1))
    with pytest.raises(AssertionError, match="different pdfs"):
        check_fit_is_deterministic(_Restless(), data)
    check_samples_match_pdf(FittedKDE(data, 0.3), np.random.default_rng(1))  # the unbroken KDE passes on the same draws


def test_a_density_the_checks_cannot_integrate_is_refused_by_name():
    """A 3-D KDE (no grid in d > 2) and a fit without a bounding box get a ValueError, not a huge grid."""
    from selfloop.simulators import KDE
    from selfloop.testing import check_density_integrates_to_one

    three = KDE(0.5).fit(np.random.default_rng(0).normal(size=(50, 3)))
    bare = type("Bare", (), {"pdf": staticmethod(three.pdf), "sample": staticmethod(three.sample)})()
    for fitted in (three, bare):
        with pytest.raises(ValueError, match="dimension 1 or 2 with bounding_box and grid_spacing"):
            check_density_integrates_to_one(fitted)
    assert check_density_integrates_to_one(KDE(0.5).fit(np.random.default_rng(0).normal(size=(50, 1)))) > 0.99
