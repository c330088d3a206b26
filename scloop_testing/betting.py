r"""The tests of :math:`H_0: E X \le b` for :math:`X \in [0, 1]` that :func:`selfloop.testing.check_bound` can use.

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
"""

from __future__ import annotations

import numpy as np

__all__ = ["BET_CAP", "MIXTURE_BETS", "MIXTURE_WEIGHTS", "METHODS", "betting_p_value", "mixture_e_values", "p_values"]

#: Bets of the mixture, as fractions of 1/b (a geometric grid; the largest keeps every factor >= 0.01).
MIXTURE_BETS = np.geomspace(0.005, 0.99, 24)
#: Prior weights of the bets: half on the largest, which is growth-optimal whenever
#: (1 - 1/rho) / (rho CV^2) > 1 (most TV checks), half spread over the rest. The
#: mixture's regret against its best bet is ln(1/weight): ln 2 there, ln 46 elsewhere.
MIXTURE_WEIGHTS = np.append(np.full(23, 0.5 / 23), 0.5)
#: Largest plug-in bet as a fraction of 1/b.
BET_CAP = 0.75
#: The tests by name.
METHODS = ("betting", "plugin", "bernstein", "hoeffding")


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
    # one bet at a time: the same sums as over a (bets, ..., R) array, bit for bit, without its memory traffic
    log_wealth = np.empty((MIXTURE_BETS.size,) + excess.shape[:-1])
    for index, bet in enumerate(MIXTURE_BETS.astype(excess.dtype)):
        log_wealth[index] = np.sum(np.log1p(bet * excess), axis=-1, dtype=float)
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


def p_values(
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
