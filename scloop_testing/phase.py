r"""Does the mean TV rise and then fall along the synthetic amount m?  A valid test and a peak interval.

Given independent replicate TVs at amounts :math:`m_1 < \dots < m_M` (one cell per m,
independent seeds), compare every pair :math:`j < k` with the one-sided statistic
:math:`z_{jk} = (\bar x_k - \bar x_j)/\sqrt{s_j^2/R_j + s_k^2/R_k}`. Each of the
:math:`P = M(M-1)` one-sided comparisons (rise or fall, each ordered pair) is made
at level :math:`\alpha/P`, so with probability at least :math:`1-\alpha` (normal
approximation of the means, Bonferroni) no declared difference is false.
"Rises then falls" is declared when some :math:`m_k` has a significant rise into
it from an earlier :math:`m_j` *and* a significant fall from it to a later
:math:`m_l`; a curve that is monotone (or flat) is then declared so with
probability at most :math:`\alpha`.

The peak location gets a percentile-bootstrap interval: replicates are resampled
within each m, and the argmax of the resampled means is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["PeakTest", "rise_then_fall"]


@dataclass(frozen=True)
class PeakTest:
    """Outcome of :func:`rise_then_fall`.

    Attributes
    ----------
    rises, falls : bool
        Some significant rise (some j < k with mean_k above mean_j), some significant fall.
    rises_then_falls : bool
        A significant rise into, and a significant fall out of, one common point.
    peak : float
        The m with the largest mean.
    interval : tuple of float
        Bootstrap interval of the peak location (grid values of m) at ``confidence``.
    critical : float
        The z every declared difference exceeds.
    """

    rises: bool
    falls: bool
    rises_then_falls: bool
    peak: float
    interval: tuple[float, float]
    critical: float
    confidence: float


def rise_then_fall(amounts, samples, *, alpha: float = 0.01, confidence: float = 0.9, draws: int = 2000) -> PeakTest:
    """Test whether mean TV rises and then falls along ``amounts``; ``samples[j]`` are the replicate TVs at ``amounts[j]``."""
    amounts = np.asarray(amounts, dtype=float)
    if amounts.ndim != 1 or amounts.size < 3 or np.any(np.diff(amounts) <= 0):
        raise ValueError("amounts must be at least 3 strictly increasing values")
    if len(samples) != amounts.size:
        raise ValueError(f"samples must have one array per amount ({amounts.size}), got {len(samples)}")
    samples = [np.asarray(s, dtype=float) for s in samples]
    if any(s.ndim != 1 or s.size < 2 for s in samples):
        raise ValueError("samples: every amount needs at least 2 replicate values")
    means = np.array([s.mean() for s in samples])
    variances = np.array([s.var(ddof=1) / s.size for s in samples])
    count = amounts.size
    critical = float(-special.ndtri(alpha / (count * (count - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (means[None, :] - means[:, None]) / np.sqrt(
            variances[:, None] + variances[None, :]
        )  # z[j, k]: rise from j to k
    z = np.nan_to_num(z, nan=0.0)
    later = np.triu(np.ones((count, count), dtype=bool), 1)  # j < k
    rise_into = np.any((z > critical) & later, axis=0)  # some earlier j with mean_k significantly above mean_j
    fall_from = np.any((-z > critical) & later, axis=1)  # some later l with mean_k significantly above mean_l
    rng = np.random.default_rng(0)
    resampled = np.stack([s[rng.integers(0, s.size, size=(draws, s.size))].mean(axis=1) for s in samples], axis=1)
    peaks = amounts[np.argmax(resampled, axis=1)]
    tail = (1 - confidence) / 2
    interval = (
        float(np.quantile(peaks, tail, method="inverted_cdf")),
        float(np.quantile(peaks, 1 - tail, method="inverted_cdf")),
    )
    return PeakTest(
        rises=bool(np.any(rise_into)),
        falls=bool(np.any(fall_from)),
        rises_then_falls=bool(np.any(rise_into & fall_from)),
        peak=float(amounts[np.argmax(means)]),
        interval=interval,
        critical=critical,
        confidence=confidence,
    )
