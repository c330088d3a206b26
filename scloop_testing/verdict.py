r"""Deciding whether replicate TV trajectories refute a bound, and how small a violation the decision could see.

Given R independent replicate trajectories :math:`X^{(r)}_i = \mathrm{TV}^{(r)}_i \in [0, 1]`
and a bound :math:`b_i` per generation, test the global null
:math:`H_0: E X_i \le b_i` for every generation i, by one of the tests of :mod:`selfloop.testing.betting`
(mixture betting by default).

``side="lower"`` tests the mirror null :math:`E X_i \ge b_i` (a lower bound, e.g.
Jensen's :math:`\mathrm{TV}(\mu_i, p_0) \le E\,\mathrm{TV}_i`) by applying the same test to
:math:`1 - X` against :math:`1 - b_i`.

**Power.** No valid test that uses only :math:`X \in [0, 1]` can refute a bound the
mean exceeds by a factor :math:`\rho` with fewer than :math:`\ln(1/\alpha)/\ln\rho`
replicates (when every replicate equals :math:`\rho b`, Markov allows probability
:math:`\rho^{-R}` of that under a null with mean b). Every verdict therefore
states its :attr:`Verdict.detectable_ratio`: the smallest :math:`\rho` such that,
if each generation's mean were :math:`\rho b_i` with the observed spread, the
test would refute with probability at least 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .betting import METHODS as _METHODS
from .betting import p_values as _p_values

__all__ = [
    "ALPHA",
    "Verdict",
    "check_bound",
    "detectable_ratio",
    "is_underpowered",
    "POWER",
    "UNDERPOWERED",
]

#: The power a detectable ratio is defined at.
POWER = 0.9
#: A verdict whose detectable ratio exceeds this is underpowered: it is not counted as a check.
UNDERPOWERED = 2.0
#: The level of every bound check the harness makes: the property tests, the report and ``scloop check``.
ALPHA = 1e-3
#: Largest ratio searched; beyond it the detectable ratio is reported as infinite.
MAX_RATIO = 10.0
#: Bootstrap draws behind a detectable ratio (fixed seed: the figure is reproducible).
POWER_DRAWS = 200
#: A control counts as within power when its observed violation shrunk by this factor is still detected.
SHRINK = 1.1


def is_underpowered(detectable_ratio: float | None) -> bool:
    """Whether a check whose detectable ratio is ``detectable_ratio`` is underpowered (not counted as a check).

    The one rule of the harness: a check that could not see a violation by ``UNDERPOWERED`` (2x) with
    probability ``POWER`` is underpowered; ``None`` or ``inf`` (no violation up to 10x visible) is too.

    Examples
    --------
    >>> is_underpowered(1.3), is_underpowered(2.5), is_underpowered(float("inf")), is_underpowered(None)
    (False, True, True, True)
    """
    return detectable_ratio is None or not np.isfinite(detectable_ratio) or detectable_ratio > UNDERPOWERED


def _oriented(tv: np.ndarray, bound: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The upper-side problem equivalent to ``side``: a lower bound b on E X is an upper bound 1 - b on E(1 - X)."""
    return (tv, bound) if side == "upper" else (1.0 - tv, 1.0 - bound)


# --------------------------------------------------------------------------- power
class _PowerBootstrap:
    r"""Power of the test against alternatives that keep the observed spread.

    Replicate rows are resampled (so the dependence across generations is kept),
    their deviations from the generation mean are inflated by :math:`\sqrt{R/(R-1)}`
    (the bootstrap's variance deficit) and by one standard error of the estimated
    spread, :math:`1 + 1/\sqrt{2(R-1)}` (so that the stated power holds on average
    over the noise of the estimate, not only at the estimate). An alternative sets
    each generation's mean to a target: the column is rescaled (so its coefficient
    of variation is the observed one) and clipped to [0, 1]. Generations whose
    observed mean or bound is 0, or whose bound is 1 or more, keep their values.
    The seed is fixed and the same resamples serve every alternative (common random
    numbers), so power is reproducible and monotone in the target.
    """

    def __init__(
        self, tv: np.ndarray, bound: np.ndarray, alpha: float, method: str, side: str, draws: int = POWER_DRAWS
    ) -> None:
        self.bound, self.alpha, self.method, self.side = bound, alpha, method, side
        replicates = tv.shape[0]
        rows = np.random.default_rng(0).integers(0, replicates, size=(draws, replicates))
        mean = tv.mean(axis=0)
        inflated = mean + (tv - mean) * np.sqrt(replicates / (replicates - 1)) * (1 + 1 / np.sqrt(2 * (replicates - 1)))
        self.resampled = inflated[rows]  # (draws, R, G)
        self.scalable = (mean > 0) & (bound > 0) & (bound < 1)
        self.unit = np.where(self.scalable, 1.0 / np.where(self.scalable, mean, 1.0), 0.0)

    def refuted(self, targets: np.ndarray, draws: np.ndarray | None = None) -> np.ndarray:
        """Whether the test refutes each resampled set (or those of the indices ``draws``), moved to mean ``targets``."""
        resampled = self.resampled if draws is None else self.resampled[draws]
        scaled = np.where(self.scalable, resampled * self.unit * targets, resampled)
        values, limit = _oriented(np.clip(scaled, 0.0, 1.0), self.bound, self.side)
        return _p_values(values, limit, self.alpha, self.method, precision=np.float32)[0] <= self.alpha

    def __call__(self, targets: np.ndarray) -> float:
        """The fraction of resampled sets, moved to mean ``targets`` (G,), that the test refutes."""
        return float(np.mean(self.refuted(targets)))


def detectable_ratio(
    tv: np.ndarray,
    bound: np.ndarray,
    *,
    alpha: float = 1e-3,
    method: str = "betting",
    side: str = "upper",
    draws: int = POWER_DRAWS,
) -> float:
    r"""The smallest :math:`\rho \ge 1` the test refutes with probability >= 0.9 (``inf`` if none up to 10).

    The alternative sets every generation's mean to :math:`\rho b_i` (``side="lower"``:
    :math:`b_i/\rho`) with the observed spread (:class:`_PowerBootstrap`); :math:`\rho` is
    found by bisection on :math:`\log\rho` to 0.4%.

    Under mixture betting each resampled set's refutation can only switch on as :math:`\rho` grows (its wealth
    increases in every observation, and rounding is monotone), so a set refuted at the bracket's low end is refuted
    inside it and one not refuted at its high end is not: each step tests only the sets still open, and the result is
    the full bisection's, bit for bit.
    """
    tv = np.atleast_2d(np.asarray(tv, dtype=float))
    bound = np.broadcast_to(np.asarray(bound, dtype=float), tv.shape[1:])
    if tv.shape[0] < 2:
        return float("inf")
    power = _PowerBootstrap(tv, bound, alpha, method, side, draws)
    if not np.any(power.scalable):
        return float("inf")

    def refuted_at(ratio: float, draws: np.ndarray | None = None) -> np.ndarray:
        return power.refuted(bound * ratio if side == "upper" else bound / ratio, draws)

    at_high = refuted_at(MAX_RATIO)
    if np.mean(at_high) < POWER:
        return float("inf")
    at_low = refuted_at(1.0)
    if np.mean(at_low) >= POWER:
        return 1.0
    monotone = method == "betting"
    low, high = 0.0, np.log(MAX_RATIO)
    while high - low > 4e-3:  # rho to 0.4%
        middle = (low + high) / 2
        if monotone:
            at_middle = at_low.copy()
            still_open = np.flatnonzero(at_high & ~at_low)
            at_middle[still_open] = refuted_at(np.exp(middle), still_open)
        else:
            at_middle = refuted_at(np.exp(middle))
        if np.mean(at_middle) >= POWER:
            high, at_high = middle, at_middle
        else:
            low, at_low = middle, at_middle
    return float(np.exp(high))


# --------------------------------------------------------------------------- the verdict
@dataclass(frozen=True)
class Verdict:
    r"""Outcome of :func:`check_bound`.

    Attributes
    ----------
    refuted : bool
        Whether the global null is rejected at level ``alpha``.
    p_value : float
        p-value of the global null.
    worst_generation : int
        The generation with the strongest evidence against its null.
    max_ratio : float
        ``side="upper"``: :math:`\max_i \overline{\mathrm{TV}}_i / b_i`;
        ``side="lower"``: :math:`\max_i b_i / \overline{\mathrm{TV}}_i` (above 1: the mean is on the wrong side).
    tightness : ndarray
        :math:`b_i / \overline{\mathrm{TV}}_i` per generation.
    mean, bound : ndarray
    alpha : float
    method, side : str
    replicates : int
    detectable_ratio : float
        The smallest :math:`\rho` (mean at :math:`\rho b_i`, or :math:`b_i/\rho` for a lower
        bound) the test would refute with probability 0.9, with the observed spread;
        ``inf`` if no :math:`\rho \le 10`. Computed on first access (a bootstrap).
    """

    refuted: bool
    p_value: float
    worst_generation: int
    max_ratio: float
    tightness: np.ndarray
    mean: np.ndarray
    bound: np.ndarray
    alpha: float
    method: str
    replicates: int
    side: str = "upper"
    tv: np.ndarray | None = field(default=None, repr=False, compare=False)

    @cached_property
    def detectable_ratio(self) -> float:
        if self.tv is None:
            raise ValueError("tv: this verdict kept no TVs, so its power cannot be computed")
        return detectable_ratio(self.tv, self.bound, alpha=self.alpha, method=self.method, side=self.side)

    @cached_property
    def within_power(self) -> bool:
        """Whether the observed violation, shrunk by ``SHRINK`` (10%), would still be refuted with probability 0.9.

        Where it is, the test must refute: past the detectable ratio the power
        rises steeply (measured: 1.0000 of 4000 draws at 1.1 times it), so a
        false bound that is within power and not refuted is a failure of the
        harness, not bad luck. The observed per-generation means are the
        alternative, so controls violated at some generations only are judged
        fairly.
        """
        if self.tv is None or self.tv.shape[0] < 2:
            return False
        targets = self.mean * SHRINK if self.side == "lower" else self.mean / SHRINK
        return _PowerBootstrap(self.tv, self.bound, self.alpha, self.method, self.side)(targets) >= POWER

    @property
    def underpowered(self) -> bool:
        """True when the test could not see even a 2x violation: the verdict does not count as a check."""
        return is_underpowered(self.detectable_ratio)

    def summary(self) -> str:
        if self.refuted:
            state = "REFUTED"
        elif self.max_ratio > 1 + 1e-12:  # the mean's point estimate is past the bound: never "holds"
            state = "above the bound, not significant" if self.side == "upper" else "below the bound, not significant"
        else:
            state = "holds"
        relation = "mean/bound" if self.side == "upper" else "bound/mean"
        return (
            f"{state} ({self.method}, {self.side} bound, R={self.replicates}, alpha={self.alpha:g}): p={self.p_value:.3g}, "
            f"detectable ratio {self.detectable_ratio:.3g}, worst generation {self.worst_generation}, max {relation} {self.max_ratio:.3f}, "
            f"bound/mean min {np.min(self.tightness):.3f} median {np.median(self.tightness):.3f} max {np.max(self.tightness):.3f}"
        )


def check_bound(
    tv: np.ndarray, bound: np.ndarray, *, alpha: float = ALPHA, method: str = "betting", side: str = "upper"
) -> Verdict:
    """Decide whether replicate TV trajectories ``tv`` (R, G + 1) refute ``bound`` (G + 1,).

    ``side="upper"`` (default) tests E TV_i <= bound_i; ``side="lower"`` tests
    E TV_i >= bound_i. Returns a :class:`Verdict` with the p-value and, on access,
    the detectable ratio.

    Examples
    --------
    >>> import numpy as np
    >>> tv = np.random.default_rng(0).gamma(25.0, 0.002, size=(64, 3))   # mean 0.05, CV 0.2
    >>> check_bound(tv, [0.06, 0.06, 0.06]).refuted, check_bound(tv, [0.03, 0.03, 0.03]).refuted
    (False, True)
    """
    tv = np.atleast_2d(np.asarray(tv, dtype=float))
    if tv.ndim != 2 or tv.shape[0] < 1 or tv.shape[1] < 1:
        raise ValueError(f"tv must be replicate trajectories (R, G + 1) with R >= 1, got shape {tv.shape}")
    bound = np.asarray(bound, dtype=float)
    if bound.shape not in ((), (1,), tv.shape[1:]):
        raise ValueError(f"bound must be a number or one per generation, shape {tv.shape[1:]}, got shape {bound.shape}")
    bound = np.broadcast_to(bound, tv.shape[1:]).copy()
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if side not in ("upper", "lower"):
        raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
    if np.any(~np.isfinite(tv)) or np.any(tv < 0) or np.any(tv > 1):
        raise ValueError("tv must be finite and lie in [0, 1]")
    if np.any(~np.isfinite(bound)) or np.any(bound < 0):
        raise ValueError("bound must be finite and non-negative")
    values, limit = _oriented(tv, bound, side)
    p_value, evidence = _p_values(values, limit, alpha, method)
    mean = tv.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tightness = np.where(mean > 0, bound / mean, np.inf)
        if side == "upper":
            ratio = np.where(bound > 0, mean / bound, np.inf)
        else:
            ratio = np.where(mean > 0, bound / mean, np.where(bound > 0, np.inf, 1.0))
    return Verdict(
        refuted=bool(p_value <= alpha),
        p_value=float(p_value),
        worst_generation=int(np.argmax(evidence)),
        max_ratio=float(np.max(ratio)),
        tightness=tightness,
        mean=mean,
        bound=bound,
        alpha=alpha,
        method=method,
        replicates=tv.shape[0],
        side=side,
        tv=tv,
    )
