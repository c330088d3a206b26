"""A user's own property test in another repository: the selfloop pytest plugin supplies the fixture and the summary."""

import numpy as np
import pytest

from selfloop.bounds import kde_bound_for
from selfloop.simulators import KDE, Scenario, run_loop, standard_truth


@pytest.mark.property
@pytest.mark.parametrize("seed", [1, 2])
def test_theorem_k_holds_for_my_setting(check_property, seed):
    truth, scenario = standard_truth("bimodal_1d"), Scenario.mixed(400, 0.5)
    tv = run_loop(truth, KDE(0.3), scenario, generations=4, seed=seed, replicates=48).tv
    bound = kde_bound_for(truth, 0.3, scenario, 4)
    check_property("my Theorem K setting", tv, bound, controls={"third": bound / 3})
    assert np.all(bound > 0)
