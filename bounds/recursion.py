r"""Lemma R: how one-step errors propagate through the loop (exact, no constants).

With :math:`q_i = \lambda_i p_0 + (1-\lambda_i)\hat p_{i-1}`,
:math:`\mathrm{TV}(q_i, p_0) = (1-\lambda_i)\mathrm{TV}(\hat p_{i-1}, p_0)`, so the
triangle inequality gives

.. math::
    \mathrm{TV}_i \le \varepsilon_i + (1-\lambda_i)\mathrm{TV}_{i-1},
    \qquad \varepsilon_i = \mathrm{TV}(\hat p_i, q_i),

and unrolled

.. math::
    \mathrm{TV}_i \le \sum_{k=0}^{i} \varepsilon_k \prod_{j=k+1}^{i} (1-\lambda_j).

With constant :math:`\lambda` and :math:`\varepsilon` this is
:math:`\varepsilon(1-(1-\lambda)^{i+1})/\lambda`, and :math:`(i+1)\varepsilon` at
:math:`\lambda = 0`. Accumulating (generation i keeps all earlier data and adds
a fraction :math:`a_i` of new points),
:math:`\hat p_i = (1-a_i)\hat p_{i-1} + a_i \hat p^{\text{new}}_i` gives
:math:`\mathrm{TV}_i \le (1 - a_i\lambda)\mathrm{TV}_{i-1} + a_i\varepsilon_i`.

Reference: Fu et al. 2024 (arXiv:2402.11778), error-propagation argument;
docs/theory.md, section 2 (Lemma R).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from . import symbols as s
from .bound import PAPER, Bound, Source, register

__all__ = [
    "accumulate_bound",
    "accumulate_sum",
    "geometric_sum",
    "propagate",
    "propagate_accumulate",
    "propagate_scenario",
    "propagated",
    "recursion_bound",
    "unrolled_sum",
]

_k, _j = sp.symbols("k j", integer=True, nonnegative=True)


def geometric_sum(ratio: sp.Expr, terms: sp.Expr) -> sp.Expr:
    r""":math:`\sum_{j=0}^{\text{terms}-1} \text{ratio}^j`, as the closed form SymPy derives from the Sum."""
    return sp.piecewise_fold(sp.Sum(ratio**_j, (_j, 0, terms - 1)).doit())


def propagated(
    initial_error: sp.Expr, error: sp.Expr, real_fraction: sp.Expr = s.real_fraction, generation: sp.Expr = s.generation
) -> sp.Expr:
    r"""Lemma R with a generation-0 error and a constant later error.

    .. math:: (1-\lambda)^i \varepsilon_0 + \varepsilon \sum_{j=0}^{i-1} (1-\lambda)^j
    """
    ratio = 1 - real_fraction
    return ratio**generation * initial_error + error * geometric_sum(ratio, generation)


def unrolled_sum(generation: int) -> sp.Expr:
    r"""The explicit finite sum :math:`\sum_{k=0}^{i} \varepsilon_k \prod_{j=k+1}^{i}(1-\lambda_j)` for a given i.

    Uses indexed symbols ``eps[k]`` and ``lam[j]``; ``doit()`` expands it.
    """
    eps, lam = sp.IndexedBase("eps"), sp.IndexedBase("lam")
    return sp.Sum(eps[_k] * sp.Product(1 - lam[_j], (_j, _k + 1, generation)), (_k, 0, generation))


def propagate(errors: np.ndarray, real_fractions: np.ndarray, new_data_weights: np.ndarray | None = None) -> np.ndarray:
    r"""Numeric Lemma R: :math:`B_i = a_i\varepsilon_i + (1 - a_i\lambda_i) B_{i-1}`, :math:`B_0 = \varepsilon_0`.

    With fresh training sets every generation is all new (:math:`a_i = 1`, the default), giving
    :math:`B_i = \varepsilon_i + (1-\lambda_i) B_{i-1}`; when accumulating, :math:`a_i` is the share
    of the new points in generation i's pool.

    Parameters
    ----------
    errors : array (..., G + 1)
        One-step errors per generation (leading axes broadcast).
    real_fractions : array (G + 1,)
        :math:`\lambda_i` (entry 0 unused).
    new_data_weights : array (G + 1,), optional
        :math:`a_i` (entry 0 unused); default all 1.
    """
    errors = np.asarray(errors, dtype=float)
    weights = np.ones(errors.shape[-1]) if new_data_weights is None else np.asarray(new_data_weights, dtype=float)
    out = np.empty_like(errors)
    out[..., 0] = errors[..., 0]
    for i in range(1, errors.shape[-1]):
        out[..., i] = weights[i] * errors[..., i] + (1 - weights[i] * real_fractions[i]) * out[..., i - 1]
    return out


def propagate_accumulate(errors: np.ndarray, new_data_weights: np.ndarray, real_fraction: float) -> np.ndarray:
    r"""Lemma R when accumulating: :func:`propagate` with :math:`a_i` the new points' share and one :math:`\lambda`."""
    return propagate(errors, np.full(np.shape(new_data_weights), float(real_fraction)), new_data_weights)


def propagate_scenario(errors: np.ndarray, scenario) -> np.ndarray:
    """Lemma R for ``scenario``: :func:`propagate_accumulate` when accumulating, else :func:`propagate`."""
    generations = np.shape(errors)[-1] - 1
    if scenario.accumulate:
        return propagate_accumulate(errors, scenario.new_data_weights(generations), scenario.real_fraction)
    return propagate(errors, scenario.real_fractions(generations))


def recursion_bound() -> Bound:
    r"""Lemma R for constant :math:`\varepsilon` and :math:`\lambda`: :math:`\varepsilon\sum_{k=0}^{i}(1-\lambda)^k`."""
    return Bound(
        "lemma_r",
        propagated(s.error, s.error),
        statement="TV(p_i, p0) <= sum_{k=0..i} eps (1 - lambda)^(i-k), given TV(p_k, q_k) <= eps for every k",
        source=Source(
            PAPER,
            "error propagation; docs/theory.md, section 2 (Lemma R)",
            "rigorous",
            "Triangle inequality with TV(q_i, p0) = (1 - lambda) TV(p_{i-1}, p0); exact, no constants.",
        ),
    )


def accumulate_sum(generation: int) -> sp.Expr:
    r"""The explicit :math:`\sum_{k=1}^{i} s/(N_0 + k s)` for a given i (reference for the closed form)."""
    return sp.Sum(s.added / (s.initial_size + _k * s.added), (_k, 1, generation))


def accumulate_bound() -> Bound:
    r"""Accumulate, no new real data, :math:`a_k = s/(N_0 + k s)`: :math:`\varepsilon(1 + \sum_{k=1}^{i} a_k)`.

    The sum is :math:`\psi(N_0/s + i + 1) - \psi(N_0/s + 1)`, so the bound grows like :math:`\log i`.
    ``added`` is the number of synthetic points added per generation.
    """
    offset = s.initial_size / s.added
    # sum_{k=1}^{i} 1/(c + k) = digamma(c + i + 1) - digamma(c + 1); SymPy leaves the Sum unevaluated
    expr = s.error * (1 + sp.digamma(offset + s.generation + 1) - sp.digamma(offset + 1))
    return Bound(
        "lemma_r_accumulate",
        expr,
        statement="Accumulating with no new real data: TV(p_i, p0) <= eps (1 + sum_{k=1..i} s / (N0 + k s))",
        source=Source(
            PAPER,
            "beyond the paper (Gerstgrasser et al. 2024); docs/theory.md, section 2 (Lemma R, accumulate)",
            "rigorous",
            "Needs the fitted model on the union to be the weighted mixture of the old fit and a fit on the new points (true for a fixed-bandwidth KDE).",
        ),
    )


register(recursion_bound())
register(accumulate_bound())
