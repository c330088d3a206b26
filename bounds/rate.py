r"""Li et al.'s rate, tested on its own quantity: the integrated score error of the random-feature model.

Li, Li, Zhang, Bian (NeurIPS 2023, arXiv:2311.01797) bound the KL of the learned diffusion model by the integrated
score error :math:`\int_{t_0}^T E_{q_t}|s_A(X_t, t) - \nabla\log q_t(X_t)|^2\,dt` and show that, with early
stopping, it decays as :math:`O(N^{-2/5} + m^{-4/5})` in the training size N and the hidden width m. Theorem D
(section 4) uses the rate through the loop with fitted constants; here the rate itself is measured. Per fit,
:func:`selfloop.bounds.integrated_score_error` computes the quantity by quadrature; over a grid of N and m,

.. math:: E(N, m) = C_1 N^{-a} + C_2 m^{-b}

is fitted by least squares on the logarithm of the mean error per setting, and the exponents (a, b) get
percentile-bootstrap intervals (replicates resampled within each setting). The rate's claim is (a, b) >= (2/5, 4/5):
an interval wholly below a claimed exponent refutes it for that truth and model; one above it says the rate is
pessimistic there. Reference: docs/theory.md, section 8.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["LI_EXPONENTS", "RateFit", "fit_rate"]

#: Li et al.'s exponents of N and of the width m in the score error's rate.
LI_EXPONENTS = (0.4, 0.8)
#: Bootstrap resamples behind the intervals (fixed seed: reproducible).
_RESAMPLES = 400


@dataclass(frozen=True)
class RateFit:
    """The fitted rate :math:`C_1 N^{-a} + C_2 m^{-b}` with 90% bootstrap intervals for the exponents.

    Attributes
    ----------
    size_exponent, width_exponent : float
        a and b.
    size_interval, width_interval : tuple of float
        Their 90% percentile-bootstrap intervals.
    size_constant, width_constant : float
        C1 and C2.
    settings : int
        Distinct (N, m) settings fitted.
    """

    size_exponent: float
    width_exponent: float
    size_interval: tuple[float, float]
    width_interval: tuple[float, float]
    size_constant: float
    width_constant: float
    settings: int

    def verdict(self, claimed: tuple[float, float] = LI_EXPONENTS) -> str:
        """Whether each claimed exponent lies in, below or above its interval, in words."""
        words = []
        for name, value, (low, high) in (("N", claimed[0], self.size_interval), ("m", claimed[1], self.width_interval)):
            if low <= value <= high:
                words.append(f"{name}^-{value:g} inside")
            elif high < value:
                words.append(f"{name}^-{value:g} excluded: slower than claimed")
            else:
                words.append(f"{name}^-{value:g} excluded: faster than claimed")
        return "; ".join(words)


def _fit(
    sizes: np.ndarray, widths: np.ndarray, errors: np.ndarray, start: np.ndarray | None = None, near: bool = False
) -> np.ndarray:
    """(log C1, a, log C2, b) minimising the squared log residuals of the mean errors, from ``start`` (default: the
    claimed exponents with constants matching the largest error), with the residuals' exact Jacobian; ``near`` says
    the start is next to the optimum (a bootstrap resample's, from the full data's fit)."""
    log_sizes, log_widths, log_errors = np.log(sizes), np.log(widths), np.log(errors)

    def terms(parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_c1, a, log_c2, b = parameters
        return np.exp(log_c1 - a * log_sizes), np.exp(log_c2 - b * log_widths)

    def residuals(parameters: np.ndarray) -> np.ndarray:
        first, second = terms(parameters)
        return np.log(first + second) - log_errors

    def jacobian(parameters: np.ndarray) -> np.ndarray:
        first, second = terms(parameters)
        share, other = first / (first + second), second / (first + second)
        return np.stack([share, -share * log_sizes, other, -other * log_widths], axis=1)

    if start is None:
        start = np.array(
            [log_errors.max() + 0.4 * log_sizes.min(), 0.4, log_errors.max() + 0.8 * log_widths.min(), 0.8]
        )
    # tolerances far below the default 1e-8: the optimum, not where a path to it stopped (the bootstrap starts each
    # resample elsewhere), to the problem's own conditioning
    tolerances = {"xtol": 1e-13, "ftol": 1e-13, "gtol": 1e-13}
    lower, upper = np.array([-50, 0.0, -50, 0.0]), np.array([50, 4.0, 50, 4.0])
    if near:  # a resample, started at the full data's optimum: MINPACK's Levenberg-Marquardt, unbounded, is 4x faster
        found = optimize.least_squares(residuals, start, jac=jacobian, method="lm", **tolerances)
        if found.success and np.all((lower <= found.x) & (found.x <= upper)):
            return found.x  # an interior optimum, the bounded search's own to the problem's conditioning (1e-7)
    return optimize.least_squares(residuals, start, jac=jacobian, bounds=(lower, upper), **tolerances).x


def fit_rate(sizes, widths, errors) -> RateFit:
    r"""Fit :math:`E(N, m) = C_1 N^{-a} + C_2 m^{-b}` to per-replicate errors and bootstrap the exponents.

    Parameters
    ----------
    sizes, widths : array_like (S,)
        N and m of each setting; at least three distinct values of each (with two, four parameters are not identified:
        measured on a 2 x 3 grid, the N exponent ran to the search's bound).
    errors : sequence of array_like
        The per-replicate errors of each setting (positive; at least two replicates each).

    Examples
    --------
    >>> sizes, widths = np.repeat([250, 1000, 4000], 3), np.tile([64, 128, 256], 3)
    >>> rng = np.random.default_rng(0)
    >>> errors = [(2 * n**-0.4 + 5 * m**-0.8) * rng.lognormal(0, 0.1, 4) for n, m in zip(sizes, widths)]
    >>> fit_rate(sizes, widths, errors).verdict()
    'N^-0.4 inside; m^-0.8 inside'
    """
    sizes, widths = np.asarray(sizes, dtype=float), np.asarray(widths, dtype=float)
    errors = [np.asarray(e, dtype=float) for e in errors]
    if not (sizes.shape == widths.shape and sizes.ndim == 1 and len(errors) == sizes.size):
        raise ValueError("sizes, widths and errors must have one entry per setting")
    if np.unique(sizes).size < 3 or np.unique(widths).size < 3:
        raise ValueError("sizes and widths: need at least three distinct sizes and three distinct widths")
    if any(e.size < 2 or np.any(~np.isfinite(e)) or np.any(e <= 0) for e in errors):
        raise ValueError("errors: each setting needs at least two finite, positive replicate errors")
    means = np.array([e.mean() for e in errors])
    fitted = _fit(sizes, widths, means)
    log_c1, a, log_c2, b = fitted
    rng = np.random.default_rng(0)
    draws = np.array(  # each resample's fit starts from the full data's: it lies close
        [
            _fit(sizes, widths, np.array([rng.choice(e, e.size).mean() for e in errors]), fitted, near=True)[[1, 3]]
            for _ in range(_RESAMPLES)
        ]
    )
    low, high = np.percentile(draws, [5, 95], axis=0)
    return RateFit(
        float(a),
        float(b),
        (float(low[0]), float(high[0])),
        (float(low[1]), float(high[1])),
        float(np.exp(log_c1)),
        float(np.exp(log_c2)),
        int(sizes.size),
    )
