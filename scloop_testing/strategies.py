"""Public Hypothesis strategies for the self-consuming-loop harness (like ``xarray.testing.strategies``).

Strategies draw parameters, never large arrays: a truth is a few means and
covariances, a run is sizes and a seed; data come from ``numpy.random.default_rng(seed)``.

Example::

    from hypothesis import given
    from scloop_testing import strategies as sst

    @given(sst.truths(dim=1), sst.scenarios(), sst.seeds())
    def test_mine(truth, scenario, seed): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from simulators import EarlyStopping, GaussianMixture, Scenario

__all__ = [
    "bandwidths",
    "generation_counts",
    "real_fractions",
    "scenarios",
    "seeds",
    "sizes",
    "stopping_rules",
    "truths",
    "widths",
    "SCENARIO_KINDS",
]

SCENARIO_KINDS = ("fully_synthetic", "mixed_fresh", "mixed_reused", "growing_synthetic", "accumulate")


@st.composite
def truths(draw, dim: int | None = None, max_components: int = 3, max_separation: float = 4.0, max_condition: float = 4.0) -> GaussianMixture:
    """Random Gaussian mixtures in d = 1 or 2 with bounded mode separation and covariance condition number.

    Means lie in a ball of radius ``max_separation / 2``; each covariance has
    eigenvalues in [0.09, 1] with ratio at most ``max_condition``; weights are
    at least 0.1 before normalisation.
    """
    dim = draw(st.sampled_from([1, 2])) if dim is None else dim
    components = draw(st.integers(1, max_components))
    raw_weights = np.array([draw(st.floats(0.1, 1.0)) for _ in range(components)])
    means, covariances = [], []
    for _ in range(components):
        direction = np.array([draw(st.floats(-1.0, 1.0)) for _ in range(dim)])
        radius = draw(st.floats(0.0, max_separation / 2))
        means.append(direction / max(np.linalg.norm(direction), 1e-9) * radius)
        largest = draw(st.floats(0.09, 1.0))
        smallest = draw(st.floats(max(0.09, largest / max_condition), largest))
        if dim == 1:
            covariances.append(np.array([[largest]]))
        else:
            angle = draw(st.floats(0.0, np.pi))
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            covariances.append(rotation @ np.diag([largest, smallest]) @ rotation.T)
    return GaussianMixture(raw_weights / raw_weights.sum(), np.array(means), np.array(covariances))


def sizes(low: int = 200, high: int = 5000) -> st.SearchStrategy[int]:
    """Training-set sizes N, log-uniform-ish (powers spread evenly)."""
    return st.integers(int(np.log2(low) * 4), int(np.log2(high) * 4)).map(lambda k: int(round(2 ** (k / 4))))


def bandwidths(low: float = 0.15, high: float = 0.6) -> st.SearchStrategy[float]:
    return st.floats(low, high)


def real_fractions(low: float = 0.0, high: float = 1.0) -> st.SearchStrategy[float]:
    return st.floats(low, high)


def generation_counts(low: int = 1, high: int = 10) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def widths(choices=(64, 128, 256)) -> st.SearchStrategy[int]:
    return st.sampled_from(list(choices))


def stopping_rules(low: float = 3.0, high: float = 30.0) -> st.SearchStrategy[EarlyStopping]:
    """Early-stopping rules tau(N) = scale N^(2/5) m^2 / (2 mean eigenvalue)."""
    return st.floats(low, high).map(EarlyStopping)


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**31 - 1)


@st.composite
def scenarios(draw, kinds=SCENARIO_KINDS, size: st.SearchStrategy[int] | None = None) -> Scenario:
    """A scenario of one of ``kinds`` with drawn sizes and real fraction."""
    kind = draw(st.sampled_from(list(kinds)))
    total = draw(sizes() if size is None else size)
    if kind == "fully_synthetic":
        return Scenario.fully_synthetic(total)
    if kind in ("mixed_fresh", "mixed_reused"):
        fraction = draw(st.floats(0.05, 0.95))
        return Scenario.mixed(total, fraction, reuse_real=kind == "mixed_reused")
    if kind == "growing_synthetic":
        real = max(50, total // draw(st.integers(2, 8)))
        return Scenario.growing_synthetic(real, total - real)
    return Scenario.accumulating(total, max(1, total // draw(st.integers(1, 4))))
