r"""Theorem D: random-feature diffusion, a rate with calibrated constants.

Li, Li, Zhang, Bian (NeurIPS 2023, arXiv:2311.01797) bound the KL divergence
of an early-stopped random-feature diffusion model trained on N samples with
hidden width m by :math:`O(N^{-2/5} + m^{-4/5})`. Pinsker turns it into

.. math:: \varepsilon(N) = \sqrt{\tfrac12\,(C_1 N^{-2/5} + C_2 m^{-4/5})},

and Lemma R propagates it through the loop:

.. math::
    \mathrm{TV}_i \le (1-\lambda)^i\varepsilon(N_0) + \varepsilon(N)\sum_{j=0}^{i-1}(1-\lambda)^j.

:math:`C_1, C_2` are unknown, so :func:`calibrate` fits the smallest envelope
to generation-0 measurements; the multi-generation prediction is then tested
on disjoint settings. This checks the paper's own contribution (how error
propagates through the loop) without trusting Li's hidden constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp
from scipy import optimize

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .recursion import propagated

__all__ = ["calibrate", "diffusion_tv_bound", "learner_error", "learner_error_bound_for"]


def learner_error(size: sp.Expr = s.size, width: sp.Expr = s.width) -> sp.Expr:
    r""":math:`\varepsilon(N) = \sqrt{(C_1 N^{-2/5} + C_2 m^{-4/5})/2}` (Pinsker on Li et al.'s KL rate)."""
    return sp.sqrt((s.C1 * size ** sp.Rational(-2, 5) + s.C2 * width ** sp.Rational(-4, 5)) / 2)


def learner_error_bound_for(c1: float, c2: float, sizes, width: int) -> np.ndarray:
    r"""The calibrated one-step error :math:`\varepsilon(N_i) = \sqrt{(C_1 N_i^{-2/5} + C_2 m^{-4/5})/2}` at each training size.

    The value of :func:`learner_error` with the constants substituted, over an array of sizes
    (one per generation): what Lemma R's measured :math:`\varepsilon_i` is compared with.
    """
    function = sp.lambdify((s.C1, s.C2, s.size, s.width), learner_error(), "numpy")
    return np.asarray(function(float(c1), float(c2), np.asarray(sizes, dtype=float), float(width)), dtype=float)


def diffusion_tv_bound() -> Bound:
    """Theorem D with symbolic constants C1, C2 (status "calibrated": use :func:`calibrate`)."""
    return Bound(
        "diffusion_theorem_d",
        propagated(learner_error(s.initial_size), learner_error(s.size)),
        statement="TV(p_i, p0) <= (1-lambda)^i eps(N0) + eps(N) sum_{j<i} (1-lambda)^j, eps(N) = sqrt((C1 N^-2/5 + C2 m^-4/5)/2)",
        source=Source(
            PAPER,
            "diffusion analysis with Li et al. 2023 (arXiv:2311.01797) rate; docs/theory.md, section 4 (Theorem D)",
            "calibrated",
            "KL rate O(N^-2/5 + m^-4/5) through Pinsker and Lemma R; C1, C2 calibrated on generation 0.",
        ),
    )


#: Standard errors above the mean that a calibration cell's upper value adds (the calibration rule).
CALIBRATION_Z = 3.0


def calibration_upper(generation_zero_tv) -> float:
    r"""The calibration rule: the upper confidence value :math:`\min(1, \bar t + 3\,\mathrm{se})` of one
    cell's generation-0 replicate TVs, which :func:`calibrate` takes as :math:`t_j`."""
    tv = np.asarray(generation_zero_tv, dtype=float).ravel()
    if tv.size < 2:
        raise ValueError(f"generation_zero_tv: the calibration rule needs at least 2 replicates, got {tv.size}")
    return float(min(1.0, tv.mean() + CALIBRATION_Z * tv.std(ddof=1) / np.sqrt(tv.size)))


def calibrated_constants(sizes: Sequence[int], widths: Sequence[int], tv_upper: Sequence[float]) -> tuple[float, float]:
    r"""The smallest envelope :math:`(C_1, C_2) \ge 0` over generation-0 measurements, as numbers (see :func:`calibrate`).

    Each measurement j says :math:`\varepsilon(N_j, m_j) \ge t_j`, i.e. the linear
    constraint :math:`C_1 N_j^{-2/5} + C_2 m_j^{-4/5} \ge 2 t_j^2`. The envelope
    minimises the summed :math:`\varepsilon^2` over the calibration grid (a
    linear programme), so it touches the data from above. A bootstrap of the constants
    calls this, without building the symbolic bound each time.
    """
    n, m, tv = (np.asarray(values, dtype=float) for values in (sizes, widths, tv_upper))
    if not (n.shape == m.shape == tv.shape) or n.ndim != 1 or n.size < 1:
        raise ValueError("sizes, widths and tv_upper must be 1-D sequences of equal, non-zero length")
    if np.any(n < 1) or np.any(m < 1):
        raise ValueError("sizes and widths must be >= 1")
    if np.any(~np.isfinite(tv)) or np.any(tv < 0) or np.any(tv > 1):
        raise ValueError("tv_upper must lie in [0, 1]")
    features = np.stack([n ** (-0.4), m ** (-0.8)], axis=1)
    targets = 2 * tv**2
    solution = optimize.linprog(
        c=features.sum(axis=0), A_ub=-features, b_ub=-targets, bounds=[(0, None), (0, None)], method="highs"
    )
    if not solution.success:
        raise ValueError(f"tv_upper: calibration failed ({solution.message})")
    c1, c2 = (float(value) for value in solution.x)
    # guard against solver round-off: scale up until every constraint holds exactly
    slack = targets / np.maximum(features @ np.array([c1, c2]), np.finfo(float).tiny)
    scale = max(1.0, float(slack.max()))
    return c1 * scale, c2 * scale


def calibrate(sizes: Sequence[int], widths: Sequence[int], tv_upper: Sequence[float]) -> Bound:
    r"""Fit the smallest envelope :math:`(C_1, C_2) \ge 0` to generation-0 measurements (:func:`calibrated_constants`).

    Parameters
    ----------
    sizes, widths : sequences of int
        Training size N_j and hidden width m_j of each calibration cell.
    tv_upper : sequence of float
        An upper confidence bound on the mean generation-0 TV of each cell.

    Returns
    -------
    Bound
        :func:`diffusion_tv_bound` with C1, C2 substituted; ``metadata``
        records the calibration set and the fitted constants.
    """
    c1, c2 = calibrated_constants(sizes, widths, tv_upper)
    calibrated = diffusion_tv_bound().subs(C1=c1, C2=c2)
    calibrated.metadata.update(
        C1=c1,
        C2=c2,
        calibration=[dict(size=int(n), width=int(m), tv_upper=float(t)) for n, m, t in zip(sizes, widths, tv_upper)],
        method="smallest envelope: min sum eps^2 s.t. eps(N_j, m_j) >= tv_upper_j (linear programme)",
    )
    return calibrated


register(diffusion_tv_bound())
