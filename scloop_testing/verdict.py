r"""Deciding whether replicate TV trajectories refute a bound, and how small a violation the decision could see.

Given R independent replicate trajectories :math:`X^{(r)}_i = \mathrm{TV}^{(r)}_i \in [0, 1]`
and a bound :math:`b_i` per generation, test the global null
:math:`H_0: E X_i \le b_i` for every generation i.

``"betting"`` (default): mixture betting, e-values averaged over generations
    For a constant bet :math:`\ell \in [0, 1/b)`, the wealth
    :math:`W_\ell = \prod_{r}\big(1 + \ell (X^{(r)} - b)\big)` has :math:`E W_\ell \le 1`
    under :math:`H_0` for i.i.d. :math:`X \ge 0` (each factor has mean
    :math:`1 + \ell(EX - b) \le 1`). So does any average of such wealths: the
    e-value of generation i is a mixture over a geometric grid of bets
    :math:`\ell b \in [0.005, 0.99]` with half its prior mass on the largest
    (Waudby-Smith & Ramdas, JRSS-B 2024, "mixture betting"), and the global e-value is the average over generations, which is
    again an e-value under the global null. Markov's inequality makes
    :math:`p = \min(1, 1/e)` valid at every R. The product is order-free, so the
    replicates' order does not matter; averaging over generations is never
    weaker than Bonferroni (:math:`\bar e \ge \max_i e_i / G`) and much stronger
    when, as here, the generations move together.
``"plugin"``
    Predictable plug-in bets in the given order with Ville's inequality,
    Bonferroni over generations (the previous default; kept for comparison).
``"bernstein"``
    Empirical Bernstein (Maurer & Pontil 2009, Theorem 4):
    :math:`E X \ge \bar X - \sqrt{2 V \ln(2/\delta)/R} - 7\ln(2/\delta)/(3(R-1))`, Bonferroni.
``"hoeffding"``
    :math:`E X \ge \bar X - \sqrt{\ln(1/\delta)/(2R)}`, Bonferroni.

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

__all__ = [
    "ALPHA",
    "Verdict",
    "betting_p_value",
    "check_bound",
    "detectable_ratio",
    "is_underpowered",
    "mixture_e_values",
    "POWER",
    "UNDERPOWERED",
]

#: Bets of the mixture, as fractions of 1/b (a geometric grid; the largest keeps every factor >= 0.01).
MIXTURE_BETS = np.geomspace(0.005, 0.99, 24)
#: Prior weights of the bets: half on the largest, which is growth-optimal whenever
#: (1 - 1/rho) / (rho CV^2) > 1 (most TV checks), half spread over the rest. The
#: mixture's regret against its best bet is ln(1/weight): ln 2 there, ln 46 elsewhere.
MIXTURE_WEIGHTS = np.append(np.full(23, 0.5 / 23), 0.5)
#: Largest plug-in bet as a fraction of 1/b.
BET_CAP = 0.75
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
_METHODS = ("betting", "plugin", "bernstein", "hoeffding")


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


# --------------------------------------------------------------------------- the tests
def mixture_e_values(samples: np.ndarray, bound: np.ndarray, *, precision=None) -> np.ndarray:
    r"""Mixture-betting e-values of :math:`H_0: E X \le b`, one per row.

    Parameters
    ----------
    samples : ndarray (..., R)
        Non-negative i.i.d. observations along the last axis.
    bound : ndarray broadcastable to ``samples.shape[:-1]``
        b per row; rows with b >= 1 get e = 1 only if every sample is <= 1 (always, for TVs),
        rows with b = 0 get e = inf as soon as a sample is positive.
    precision : numpy dtype, optional
        Compute the log-wealth terms in this dtype (``np.float32`` for the power bootstrap,
        whose Monte Carlo error dwarfs single-precision rounding); sums are in float64.
    """
    samples = np.asarray(samples, dtype=float)
    bound = np.broadcast_to(np.asarray(bound, dtype=float), samples.shape[:-1])
    safe = np.where(bound > 0, bound, 1.0)
    excess = samples / safe[..., None] - 1.0  # (X - b) / b
    if precision is not None:
        excess = excess.astype(precision)
    bets = MIXTURE_BETS.astype(excess.dtype).reshape((-1,) + (1,) * excess.ndim)
    log_wealth = np.sum(np.log1p(bets * excess[None]), axis=-1, dtype=float)
    weights = MIXTURE_WEIGHTS.reshape((-1,) + (1,) * (log_wealth.ndim - 1))
    with np.errstate(over="ignore"):
        e_values = np.sum(weights * np.exp(np.minimum(log_wealth, 700.0)), axis=0)
    e_values = np.where(bound >= 1, 1.0, e_values)
    return np.where(bound <= 0, np.where(np.any(samples > 0, axis=-1), np.inf, 1.0), e_values)


def betting_p_value(samples: np.ndarray, bound: float, alpha: float = 1e-3) -> float:
    r"""Anytime-valid p-value of :math:`H_0: E X \le \text{bound}` by predictable plug-in bets (``"plugin"``).

    Bets :math:`\lambda_t = \min\big(\sqrt{2\ln(1/\alpha)/(\hat\sigma^2_{t-1}\, t \ln(t+1))}, c/b\big)`
    (Waudby-Smith & Ramdas, eq. 26) with the running variance regularised by one
    pseudo-observation (mean b, variance b²); p = 1 / max_t wealth (Ville).
    """
    samples = np.asarray(samples, dtype=float)
    if bound >= 1:
        return 1.0
    if bound <= 0:
        return 0.0 if np.any(samples > 0) else 1.0
    count = samples.size
    index = np.arange(1, count + 1)
    running_mean = (bound + np.concatenate([[0.0], np.cumsum(samples)[:-1]])) / index
    squared = np.concatenate([[0.0], np.cumsum((samples - running_mean) ** 2)[:-1]])
    variance = (bound**2 + squared) / index
    bets = np.minimum(np.sqrt(2 * np.log(1 / alpha) / (variance * index * np.log(index + 1.0))), BET_CAP / bound)
    wealth = np.cumprod(1.0 + bets * (samples - bound))
    return float(min(1.0, 1.0 / max(1.0, wealth.max())))


def _closed_form_p_value(samples: np.ndarray, bound: float, method: str) -> float:
    """Smallest delta at which the one-sided lower confidence bound exceeds ``bound`` (bisection on log delta)."""
    count = samples.size
    mean, variance = samples.mean(), samples.var(ddof=1) if count > 1 else 0.25
    excess = mean - bound
    if excess <= 0:
        return 1.0

    def width(delta: float) -> float:
        if method == "hoeffding":
            return np.sqrt(np.log(1 / delta) / (2 * count))
        log_term = np.log(2 / delta)  # Maurer & Pontil, Theorem 4
        return np.sqrt(2 * variance * log_term / count) + 7 * log_term / (3 * max(count - 1, 1))

    low, high = -700.0, 0.0  # log delta; the width decreases as delta grows
    if width(np.exp(low)) < excess:
        return float(np.exp(low))
    for _ in range(200):
        middle = (low + high) / 2
        if width(np.exp(middle)) < excess:
            high = middle
        else:
            low = middle
    return float(np.exp(high))


def _p_values(
    tv: np.ndarray, bound: np.ndarray, alpha: float, method: str, precision=None
) -> tuple[np.ndarray, np.ndarray]:
    """Global p-values and per-generation evidence for a batch of replicate sets.

    ``tv`` (..., R, G), ``bound`` (G,). Returns ``(p, evidence)`` with ``p`` of shape
    (...,) and ``evidence`` (..., G), larger meaning stronger evidence against the
    generation's null (e-values, or inverse per-generation p-values).
    """
    columns = np.swapaxes(tv, -1, -2)  # (..., G, R)
    generations = columns.shape[-2]
    if method == "betting":
        e_values = mixture_e_values(columns, bound, precision=precision)
        with np.errstate(divide="ignore"):
            return np.minimum(1.0, 1.0 / e_values.mean(axis=-1)), e_values
    flat = columns.reshape(-1, generations, columns.shape[-1])
    if method == "plugin":
        per = np.array(
            [[betting_p_value(row[i], bound[i], alpha / generations) for i in range(generations)] for row in flat]
        )
    else:
        per = np.array([[_closed_form_p_value(row[i], bound[i], method) for i in range(generations)] for row in flat])
    per = per.reshape(columns.shape[:-1])
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, per.min(axis=-1) * generations), 1.0 / per


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

    def __call__(self, targets: np.ndarray) -> float:
        """The fraction of resampled sets, moved to mean ``targets`` (G,), that the test refutes."""
        scaled = np.where(self.scalable, self.resampled * self.unit * targets, self.resampled)
        values, limit = _oriented(np.clip(scaled, 0.0, 1.0), self.bound, self.side)
        return float(np.mean(_p_values(values, limit, self.alpha, self.method, precision=np.float32)[0] <= self.alpha))


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
    """
    tv = np.atleast_2d(np.asarray(tv, dtype=float))
    bound = np.broadcast_to(np.asarray(bound, dtype=float), tv.shape[1:])
    if tv.shape[0] < 2:
        return float("inf")
    power = _PowerBootstrap(tv, bound, alpha, method, side, draws)
    if not np.any(power.scalable):
        return float("inf")

    def power_at(ratio: float) -> float:
        return power(bound * ratio if side == "upper" else bound / ratio)

    if power_at(MAX_RATIO) < POWER:
        return float("inf")
    if power_at(1.0) >= POWER:
        return 1.0
    low, high = 0.0, np.log(MAX_RATIO)
    while high - low > 4e-3:  # rho to 0.4%
        middle = (low + high) / 2
        low, high = (low, middle) if power_at(np.exp(middle)) >= POWER else (middle, high)
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
    tv: np.ndarray = field(default=None, repr=False, compare=False)

    @cached_property
    def detectable_ratio(self) -> float:
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
    bound = np.broadcast_to(np.asarray(bound, dtype=float), tv.shape[1:]).copy()
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
