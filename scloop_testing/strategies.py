"""Public Hypothesis strategies for the self-consuming-loop harness (like ``xarray.testing.strategies``).

Strategies draw parameters, never large arrays: a truth is a few means and
covariances, a run is sizes and a seed; data come from ``numpy.random.default_rng(seed)``.
Every strategy checks its own arguments and raises a ValueError that names the bad one.

Example::

    from hypothesis import given
    from selfloop.testing import strategies as sst

    @given(sst.truths(dim=1), sst.scenarios(), sst.seeds())
    def test_mine(truth, scenario, seed): ...

The defaults draw moderate settings. The regions where a bound is most likely
to break are reachable through the arguments: ``bandwidths(0.03, 0.6)``,
``truths(max_separation=10, min_weight=0.04)`` (modes 10 apart, weights down to
0.02) and ``truths(dim=3)``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from selfloop.simulators import EarlyStopping, GaussianMixture, Scenario

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

#: The scenario kinds (one vocabulary: :attr:`selfloop.simulators.Scenario.KINDS`).
SCENARIO_KINDS = Scenario.KINDS


def _check_range(name: str, low: float, high: float, *, positive: bool = True) -> None:
    """``low <= high``, both finite, and ``low > 0`` (or ``>= 0`` when not ``positive``)."""
    valid = np.isfinite(low) and np.isfinite(high) and low <= high and (low > 0 if positive else low >= 0)
    if not valid:
        sign = ">" if positive else ">="
        raise ValueError(f"{name}: need finite low <= high with low {sign} 0, got low={low!r}, high={high!r}")


def _check_integers(name: str, low: int, high: int, minimum: int) -> None:
    if not (isinstance(low, int) and isinstance(high, int) and minimum <= low <= high):
        raise ValueError(f"{name}: need integers {minimum} <= low <= high, got low={low!r}, high={high!r}")


def _random_rotation(draw, dim: int) -> np.ndarray:
    """A rotation built from drawn plane angles: none in 1-D, one in 2-D, three (Euler) in 3-D."""
    out = np.eye(dim)
    planes = {1: [], 2: [(0, 1)], 3: [(0, 1), (1, 2), (0, 1)]}[dim]
    for i, j in planes:
        angle = draw(st.floats(0.0, np.pi))
        rotation = np.eye(dim)
        rotation[[i, i, j, j], [i, j, i, j]] = [np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)]
        out = out @ rotation
    return out


def truths(
    dim: int | None = None,
    max_components: int = 3,
    max_separation: float = 4.0,
    max_condition: float = 4.0,
    min_weight: float = 0.1,
) -> st.SearchStrategy[GaussianMixture]:
    """Random Gaussian mixtures in d = 1, 2 or 3 with bounded separation, condition number and weights.

    Means lie in a ball of radius ``max_separation / 2`` (modes at most
    ``max_separation`` apart); each covariance has eigenvalues in [0.09, 1] with
    ratio at most ``max_condition``; raw weights are drawn in [``min_weight``, 1]
    before normalisation (``min_weight=0.04`` with three components allows
    weights down to 0.02). ``dim=None`` draws d in {1, 2}. Bad arguments raise a ValueError that
    names them here, not at the first draw.
    """
    if dim not in (None, 1, 2, 3):
        raise ValueError(f"dim must be None, 1, 2 or 3, got {dim!r}")
    if not (isinstance(max_components, int) and 1 <= max_components <= 8):
        raise ValueError(f"max_components must be an integer in [1, 8], got {max_components!r}")
    if not (np.isfinite(max_separation) and 0 <= max_separation <= 20):
        raise ValueError(f"max_separation must lie in [0, 20], got {max_separation!r}")
    if not (np.isfinite(max_condition) and max_condition >= 1):
        raise ValueError(f"max_condition must be a number >= 1, got {max_condition!r}")
    if not (0 < min_weight <= 1):
        raise ValueError(f"min_weight must lie in (0, 1], got {min_weight!r}")
    return _truths(dim, max_components, max_separation, max_condition, min_weight)


@st.composite
def _truths(draw, dim, max_components, max_separation, max_condition, min_weight) -> GaussianMixture:
    dim = draw(st.sampled_from([1, 2])) if dim is None else dim
    components = draw(st.integers(1, max_components))
    raw_weights = np.array([draw(st.floats(min_weight, 1.0)) for _ in range(components)])
    means, covariances = [], []
    for _ in range(components):
        direction = np.array([draw(st.floats(-1.0, 1.0)) for _ in range(dim)])
        radius = draw(st.floats(0.0, max_separation / 2))
        means.append(direction / max(np.linalg.norm(direction), 1e-9) * radius)
        largest = draw(st.floats(0.09, 1.0))
        eigenvalues = [largest] + [draw(st.floats(max(0.09, largest / max_condition), largest)) for _ in range(dim - 1)]
        rotation = _random_rotation(draw, dim)
        covariances.append(rotation @ np.diag(eigenvalues) @ rotation.T)
    return GaussianMixture(raw_weights / raw_weights.sum(), np.array(means), np.array(covariances))


def sizes(low: int = 200, high: int = 5000) -> st.SearchStrategy[int]:
    """Training-set sizes N, log-uniform-ish (powers spread evenly)."""
    _check_integers("sizes", low, high, 2)
    return st.integers(int(np.ceil(np.log2(low) * 4)), int(np.floor(np.log2(high) * 4))).map(
        lambda k: int(min(high, max(low, round(2 ** (k / 4)))))
    )


def bandwidths(low: float = 0.15, high: float = 0.6) -> st.SearchStrategy[float]:
    """Bandwidths h, log-uniform in [low, high], so small bandwidths are drawn as often as large ones."""
    _check_range("bandwidths", low, high)
    return st.floats(float(np.log(low)), float(np.log(high))).map(
        lambda value: float(min(high, max(low, np.exp(value))))
    )


def real_fractions(low: float = 0.0, high: float = 1.0) -> st.SearchStrategy[float]:
    _check_range("real_fractions", low, high, positive=False)
    if high > 1:
        raise ValueError(f"real_fractions: high must be <= 1, got {high!r}")
    return st.floats(low, high)


def generation_counts(low: int = 1, high: int = 10) -> st.SearchStrategy[int]:
    _check_integers("generation_counts", low, high, 0)
    return st.integers(low, high)


def widths(choices=(64, 128, 256)) -> st.SearchStrategy[int]:
    choices = list(choices)
    if not choices or not all(isinstance(c, int) and c >= 1 for c in choices):
        raise ValueError(f"choices must be a non-empty list of positive integers, got {choices!r}")
    return st.sampled_from(choices)


def stopping_rules(low: float = 3.0, high: float = 30.0) -> st.SearchStrategy[EarlyStopping]:
    """Early-stopping rules tau(N) = scale N^(2/5) m^2 / (2 mean eigenvalue)."""
    _check_range("stopping_rules", low, high)
    return st.floats(low, high).map(EarlyStopping)


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**31 - 1)


def scenarios(kinds=None, size: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Scenario]:
    """A scenario of one of ``kinds`` (a non-empty selection of :data:`SCENARIO_KINDS`; default every kind but
    ``weighted``, which only models that fit by weighted statistics accept) with drawn sizes and real fraction; bad
    ``kinds`` raise a ValueError here, not at the first draw."""
    if kinds is None:
        kinds = tuple(kind for kind in SCENARIO_KINDS if kind != "weighted")
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in SCENARIO_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty selection of {SCENARIO_KINDS}, got {kinds!r}")
    return _scenarios(kinds, size)


@st.composite
def _scenarios(draw, kinds: tuple[str, ...], size: st.SearchStrategy[int] | None) -> Scenario:
    kind = draw(st.sampled_from(list(kinds)))
    total = draw(sizes() if size is None else size)
    if kind == "fully_synthetic":
        return Scenario.fully_synthetic(total)
    if kind in ("mixed_fresh", "mixed_reused"):
        fraction = draw(st.floats(0.05, 0.95))
        return Scenario.mixed(total, fraction, reuse_real=kind == "mixed_reused")
    if kind == "growing_synthetic":
        real = max(50, total // draw(st.integers(2, 8)))
        return Scenario.growing_synthetic(real, max(0, total - real))
    if kind == "accumulate":
        return Scenario.accumulating(total, max(1, total // draw(st.integers(1, 4))))
    if kind == "accumulate_subsample":
        added = max(1, total // draw(st.integers(1, 4)))
        return Scenario.accumulating(total, added, fit_size=draw(st.integers(max(2, total // 4), total)))
    if kind == "weighted":  # r fresh real points weighted w against s synthetic ones
        real = max(2, total // draw(st.integers(2, 8)))
        weight = draw(st.floats(0.05, 1.0, allow_nan=False))
        return Scenario.weighted(real, max(1, total - real), weight)
    raise AssertionError(f"scenario kind {kind!r} is in SCENARIO_KINDS but not drawn here")
