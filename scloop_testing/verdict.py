r"""Deciding whether replicate TV trajectories refute a bound.

Given R independent replicate trajectories :math:`\mathrm{TV}^{(r)}_i` and a
bound :math:`b_i` per generation, test :math:`H_0: E[\mathrm{TV}_i] \le b_i` for
every generation, with a one-sided test at level :math:`\alpha/(G+1)` per
generation (Bonferroni), using only :math:`\mathrm{TV} \in [0, 1]`:

``"betting"`` (default)
    Testing by betting (Waudby-Smith & Ramdas, JRSS-B 2024). The wealth
    :math:`K_t = \prod_{s\le t}(1 + \lambda_s (X_s - b))` with predictable
    :math:`\lambda_s \in [0, c/b]` is a non-negative supermartingale under
    :math:`H_0` (it needs only :math:`X \ge 0`), so by Ville's inequality
    :math:`P(\max_t K_t \ge 1/\alpha) \le \alpha` for every R: the p-value
    :math:`1/\max_t K_t` is valid at any sample size. It adapts to the
    variance, which is what gives power when TV values are small (a few
    hundredths) and R is a few dozen.
``"bernstein"``
    Empirical Bernstein (Maurer & Pontil 2009):
    :math:`E X \ge \bar X - \sqrt{2 V \ln(1/\delta)/R} - 7\ln(1/\delta)/(3(R-1))`.
``"hoeffding"``
    :math:`E X \ge \bar X - \sqrt{\ln(1/\delta)/(2R)}`.

The two closed-form bounds are valid but need hundreds of replicates to
resolve differences of a few hundredths; they are kept for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Verdict", "check_bound", "betting_p_value"]

#: Largest bet as a fraction of 1/b: every wealth factor stays >= 1 - BET_CAP.
BET_CAP = 0.75


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`check_bound`.

    Attributes
    ----------
    refuted : bool
        Whether :math:`E[\\mathrm{TV}_i] \\le b_i` is rejected for some generation at level ``alpha``.
    p_value : float
        Bonferroni-adjusted p-value of the global null (smallest per-generation p times G + 1, capped at 1).
    worst_generation : int
        The generation with the smallest p-value.
    max_ratio : float
        :math:`\\max_i \\overline{\\mathrm{TV}}_i / b_i` (above 1: the mean exceeds the bound).
    tightness : ndarray
        :math:`b_i / \\overline{\\mathrm{TV}}_i` per generation (how loose the bound is).
    mean : ndarray
        Mean TV per generation.
    bound : ndarray
    alpha : float
    method : str
    replicates : int
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

    def summary(self) -> str:
        state = "REFUTED" if self.refuted else "holds"
        return (
            f"{state} ({self.method}, R={self.replicates}, alpha={self.alpha:g}): p={self.p_value:.3g}, "
            f"worst generation {self.worst_generation}, max mean/bound {self.max_ratio:.3f}, "
            f"bound/mean min {np.min(self.tightness):.2f} median {np.median(self.tightness):.2f} max {np.max(self.tightness):.2f}"
        )


def betting_p_value(samples: np.ndarray, bound: float, alpha: float = 1e-3) -> float:
    r"""Anytime-valid p-value of :math:`H_0: E X \le \text{bound}` for i.i.d. :math:`X \ge 0`.

    Predictable plug-in bets (Waudby-Smith & Ramdas, eq. 26) in the order given:
    :math:`\lambda_t = \min\big(\sqrt{2\ln(1/\alpha)/(\hat\sigma^2_{t-1}\, t \ln(t+1))}, c/b\big)`,
    with :math:`\hat\sigma^2_{t-1}` the running variance regularised by one
    pseudo-observation at the null's own scale (mean b, variance b²) rather
    than the [0, 1] worst case, so bets are sized for TV values of a few
    hundredths. ``alpha`` only tunes the bet size: any predictable bet gives
    a valid p-value.
    """
    samples = np.asarray(samples, dtype=float)
    if bound >= 1:
        return 1.0
    if bound <= 0:
        return 0.0 if np.any(samples > 0) else 1.0
    count = samples.size
    index = np.arange(1, count + 1)
    running_mean = (bound + np.concatenate([[0.0], np.cumsum(samples)[:-1]])) / index  # mu_{t-1}, prior b
    squared = np.concatenate([[0.0], np.cumsum((samples - running_mean) ** 2)[:-1]])
    variance = (bound**2 + squared) / index  # sigma^2_{t-1}, prior b^2
    bets = np.minimum(np.sqrt(2 * np.log(1 / alpha) / (variance * index * np.log(index + 1.0))), BET_CAP / bound)
    wealth = np.cumprod(1.0 + bets * (samples - bound))
    return float(min(1.0, 1.0 / max(1.0, wealth.max())))


def _closed_form_p_value(samples: np.ndarray, bound: float, method: str) -> float:
    """Smallest delta at which the one-sided lower confidence bound exceeds ``bound`` (by bisection on log delta)."""
    count = samples.size
    mean, variance = samples.mean(), samples.var(ddof=1) if count > 1 else 0.25
    excess = mean - bound
    if excess <= 0:
        return 1.0

    def width(delta: float) -> float:
        log_term = np.log(1 / delta)
        if method == "hoeffding":
            return np.sqrt(log_term / (2 * count))
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


def check_bound(tv: np.ndarray, bound: np.ndarray, *, alpha: float = 1e-3, method: str = "betting") -> Verdict:
    """Decide whether replicate TV trajectories ``tv`` (R, G + 1) refute ``bound`` (G + 1,).

    Returns a :class:`Verdict`; ``refuted`` is the Bonferroni-corrected
    one-sided test at level ``alpha`` over the G + 1 generations.
    """
    tv = np.atleast_2d(np.asarray(tv, dtype=float))
    bound = np.broadcast_to(np.asarray(bound, dtype=float), tv.shape[1:]).copy()
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if method not in ("betting", "bernstein", "hoeffding"):
        raise ValueError(f"method must be 'betting', 'bernstein' or 'hoeffding', got {method!r}")
    if np.any(~np.isfinite(tv)) or np.any(tv < 0) or np.any(tv > 1):
        raise ValueError("tv must be finite and lie in [0, 1]")
    if np.any(~np.isfinite(bound)) or np.any(bound < 0):
        raise ValueError("bound must be finite and non-negative")
    generations = tv.shape[1]
    if method == "betting":
        p_values = np.array([betting_p_value(tv[:, i], bound[i], alpha / generations) for i in range(generations)])
    else:
        p_values = np.array([_closed_form_p_value(tv[:, i], bound[i], method) for i in range(generations)])
    adjusted = np.minimum(1.0, p_values * generations)
    mean = tv.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tightness = np.where(mean > 0, bound / mean, np.inf)
        ratio = np.where(bound > 0, mean / bound, np.inf)
    worst = int(np.argmin(adjusted))
    return Verdict(
        refuted=bool(adjusted[worst] <= alpha),
        p_value=float(adjusted[worst]),
        worst_generation=worst,
        max_ratio=float(np.max(ratio)),
        tightness=tightness,
        mean=mean,
        bound=bound,
        alpha=alpha,
        method=method,
        replicates=tv.shape[0],
    )
