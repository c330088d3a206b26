"""The checks of a cell: which bounds it is compared with, and the verdict of each, with its power.

A check is a plain record (JSON-serialisable)::

    {"bound": "kde_theorem_k_step", "label": "Theorem K", "status": "rigorous",
     "side": "upper", "values": [...], "outside_theory": False, "verdict": {...}}

``side`` is ``"upper"`` for a bound on E TV_i from above and ``"lower"`` for one
from below (Jensen's TV(mu_i, p0) <= E TV_i). ``outside_theory`` marks a bound
evaluated where its assumptions fail (a reused real pool): its verdict is
reported, not expected. A verdict counts as a check only if its detectable
ratio is at most :data:`selfloop.testing.UNDERPOWERED` (a 2x violation visible).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from selfloop.bounds import kde_bound_for, kde_bound_terms, kde_second_moment_terms
from selfloop.bounds.recursion import propagate_scenario
from selfloop.testing import UNDERPOWERED, check_bound

__all__ = ["ALPHA", "check_record", "kde_checks", "kde_slack", "verdict_record"]

#: Level of every bound check in the report.
ALPHA = 1e-3


def verdict_record(tv: np.ndarray, values, side: str = "upper") -> dict:
    """The verdict of ``values`` against replicate TVs ``tv`` (R, G + 1), as a JSON-ready dict."""
    verdict = check_bound(tv, np.asarray(values, dtype=float), alpha=ALPHA, side=side)
    detectable = verdict.detectable_ratio
    return {
        "refuted": verdict.refuted,
        "p_value": verdict.p_value,
        "worst_generation": verdict.worst_generation,
        "max_ratio": verdict.max_ratio,
        "tightness": [float(x) for x in verdict.tightness],
        "detectable_ratio": detectable if np.isfinite(detectable) else None,
        "underpowered": bool(not np.isfinite(detectable) or detectable > UNDERPOWERED),
    }


def check_record(tv: np.ndarray, bound: str, label: str, status: str, values, *, side: str = "upper", outside_theory: bool = False) -> dict:
    """One check of a cell, with its verdict."""
    values = [float(x) for x in np.atleast_1d(values)]
    return {
        "bound": bound,
        "label": label,
        "status": status,
        "side": side,
        "values": values,
        "outside_theory": outside_theory,
        "verdict": verdict_record(tv, values, side),
    }


def kde_checks(tv: np.ndarray, truth, bandwidth, scenario, generations: int) -> tuple[list[dict], dict]:
    """Theorem K, the second-moment bound and Jensen's lower bound for a KDE cell; the folded-normal predictor.

    ``bandwidth`` is one h or the per-generation schedule. A reused real pool is
    evaluated at its fresh-data counterpart and marked outside the theory.
    """
    outside = scenario.reuse_real
    fresh = replace(scenario, reuse_real=False)
    second = kde_second_moment_terms(truth, bandwidth, fresh, generations)
    checks = [
        check_record(tv, "kde_theorem_k_step", "Theorem K", "rigorous", kde_bound_for(truth, bandwidth, fresh, generations), outside_theory=outside),
        check_record(tv, "kde_second_moment", "second-moment", "rigorous", second.upper, outside_theory=outside),
        check_record(tv, "kde_second_moment", "Jensen lower", "rigorous", second.lower, side="lower", outside_theory=outside),
    ]
    return checks, {"folded_normal": [float(x) for x in second.folded_normal]}


def kde_slack(sampling_errors: np.ndarray, tv: np.ndarray, truth, bandwidth, scenario, generations: int) -> dict:
    r"""Where Theorem K is loose, per generation: its parts, measured and bounded.

    - ``bias``: B = TV(K_h * p0, p0), exact (it is not bounded, so it has no slack);
    - ``sampling_measured`` (± ``sampling_stderr``): the replicate mean of S_k = TV(p̂_k, K_h * q_k),
      next to ``sampling_bound``, Theorem K's :math:`\tfrac12 N^{-1/2}(4\pi h^2)^{-d/4} J_k`;
    - ``propagated_measured``: Lemma R applied to the measured B + E S_k, next to the mean TV
      (the triangle inequality's slack) and Theorem K (``bound``).
    """
    terms = kde_bound_terms(truth, bandwidth, scenario, generations)
    measured = sampling_errors.mean(axis=0)
    stderr = sampling_errors.std(axis=0, ddof=1) / np.sqrt(sampling_errors.shape[0])
    parts = {
        "bias": terms.bias,
        "sampling_measured": measured,
        "sampling_stderr": stderr,
        "sampling_bound": terms.sampling,
        "propagated_measured": propagate_scenario(terms.bias + measured, scenario),
        "mean_tv": tv.mean(axis=0),
        "bound": terms.total,
    }
    return {name: [float(x) for x in values] for name, values in parts.items()}
