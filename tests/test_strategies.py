"""The public Hypothesis strategies draw what they say and refuse bad arguments by name."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from selfloop.simulators import Scenario
from selfloop.testing import strategies as sst


@settings(max_examples=40)
@given(sst.truths(dim=3, max_separation=10.0, min_weight=0.04))
def test_hard_truths_stay_inside_their_stated_ranges(truth):
    assert truth.dim == 3 and truth.weights.min() >= 0.04 / (0.04 + 2) - 1e-12
    if truth.components > 1:
        spread = np.max(np.linalg.norm(truth.means[:, None] - truth.means[None], axis=-1))
        assert spread <= 10.0 + 1e-9
    eigenvalues = np.linalg.eigvalsh(truth.covariances)
    assert eigenvalues.min() >= 0.09 - 1e-9 and eigenvalues.max() <= 1.0 + 1e-9


@settings(max_examples=60)
@given(sst.bandwidths(0.03, 0.6), sst.sizes(100, 3000))
def test_bandwidths_and_sizes_stay_in_range(bandwidth, size):
    assert 0.03 <= bandwidth <= 0.6 and 100 <= size <= 3000


@pytest.mark.parametrize("kind", Scenario.KINDS)
def test_scenarios_draw_exactly_the_kind_asked_for(kind):
    @settings(max_examples=10)
    @given(sst.scenarios(kinds=(kind,)))
    def check(scenario):
        assert scenario.kind == kind

    check()


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: sst.scenarios(kinds=("mixed",)), "kinds"),
        (lambda: sst.scenarios(kinds=()), "kinds"),
        (lambda: sst.bandwidths(-0.1, 0.5), "bandwidths"),
        (lambda: sst.bandwidths(0.5, 0.1), "bandwidths"),
        (lambda: sst.sizes(100, 10), "sizes"),
        (lambda: sst.truths(dim=4), "dim"),
        (lambda: sst.truths(min_weight=0.0), "min_weight"),
        (lambda: sst.truths(max_separation=-1.0), "max_separation"),
        (lambda: sst.real_fractions(0.2, 1.5), "real_fractions"),
        (lambda: sst.generation_counts(3, 1), "generation_counts"),
        (lambda: sst.widths(()), "choices"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(make, name):
    """At the call that builds the strategy, not at its first draw."""
    with pytest.raises(ValueError, match=name):
        make()
