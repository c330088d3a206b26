"""The checks of a cell: which bounds it is compared with, and the verdict of each, with its power.

A check is a plain record (JSON-serialisable)::

    {"bound": "kde_theorem_k_step", "label": "Theorem K", "status": "rigorous",
     "side": "upper", "values": [...], "outside_theory": False, "verdict": {...}}

``side`` is ``"upper"`` for a bound on E TV_i from above and ``"lower"`` for one
from below (Jensen's TV(mu_i, p0) <= E TV_i). ``outside_theory`` marks a bound
evaluated where its assumptions fail (a reused real pool): its verdict is
reported, not expected. A verdict counts as a check only if its detectable
ratio is at most :data:`selfloop.testing.UNDERPOWERED` (a 2x violation visible).

Which checks a cell gets is decided by the registry :data:`CHECKS`: a :class:`Check` names the
registered :class:`selfloop.bounds.Bound` it evaluates (so the formula printed in the report is the
one evaluated, and its status is the bound's), says which cells it applies to, and how to evaluate
the bound for a cell. The sweep and the report loop over the checks that match; a plugin adds its
own with :func:`register_check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from selfloop.bounds import (
    Registry,
    get_bound,
    kde_bound_for,
    kde_bound_terms,
    kde_second_moment_terms,
    mle_bound_for,
    mle_moments,
)
from selfloop.bounds.recursion import propagate_scenario
from selfloop.simulators import STANDARD_TRUTHS, Scenario
from selfloop.testing import ALPHA, check_bound, is_underpowered

__all__ = [
    "ALPHA",
    "CHECKS",
    "LAW_Z",
    "Check",
    "CellContext",
    "cell_checks",
    "check_record",
    "kde_slack",
    "mle_law_record",
    "register_check",
    "verdict_record",
]


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
        "underpowered": is_underpowered(detectable),
    }


def check_record(
    tv: np.ndarray, bound: str, label: str, status: str, values, *, side: str = "upper", outside_theory: bool = False
) -> dict:
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


@dataclass
class CellContext:
    """What a check needs to evaluate its bound for one cell.

    Attributes
    ----------
    spec : dict
        The cell specification (:mod:`selfloop.reports.suites`).
    truth : GaussianMixture
    scenario : Scenario
    generations : int
    calibration : dict or None
        The suite's Theorem D calibration (``C1``, ``C2``), for checks with ``stage="suite"``.
    memo : dict
        Shared by the checks of one cell, so two checks of one computation pay for it once.
    """

    spec: dict
    truth: object
    scenario: Scenario
    generations: int
    calibration: dict | None = None
    memo: dict = field(default_factory=dict)

    def memoized(self, key: str, compute: Callable[[], object]):
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass(frozen=True)
class Check:
    """A bound compared with the cells it applies to.

    Attributes
    ----------
    label : str
        How the report names it ("Theorem K").
    bound : str
        The registered :class:`selfloop.bounds.Bound` it evaluates; its status (rigorous or
        calibrated) is the bound's.
    applies : callable ``spec -> bool``
        Which cells it checks.
    evaluate : callable ``CellContext -> array (generations + 1,)``
        The bound's values for the cell.
    side : ``"upper"`` or ``"lower"``
    stage : ``"cell"`` or ``"suite"``
        ``"cell"`` checks run in the worker with the cell; ``"suite"`` checks need the whole suite
        (Theorem D's calibration) and run when the results are assembled.
    outside_theory : callable ``spec -> bool``
        Cells where the bound's assumptions fail: the verdict is reported, not expected.
    """

    label: str
    bound: str
    applies: Callable[[dict], bool]
    evaluate: Callable[[CellContext], np.ndarray]
    side: str = "upper"
    stage: str = "cell"
    outside_theory: Callable[[dict], bool] = lambda spec: False


#: The checks every report runs, in the order cells list them.
CHECKS: Registry[Check] = Registry("check")


def register_check(name: str, check: Check, *, replace: bool = False) -> Check:
    """Add ``check`` to :data:`CHECKS` (its bound must be registered)."""
    get_bound(check.bound)
    if check.side not in ("upper", "lower") or check.stage not in ("cell", "suite"):
        raise ValueError(
            f"check: side must be 'upper' or 'lower' and stage 'cell' or 'suite', got {check.side!r}, {check.stage!r}"
        )
    return CHECKS.register(name, check, replace=replace)


def cell_checks(tv: np.ndarray, context: CellContext, stage: str) -> list[dict]:
    """The records of every registered check of ``stage`` that applies to the cell, in registration order."""
    records = []
    for name in CHECKS:
        check = CHECKS.get(name)
        if check.stage != stage or not check.applies(context.spec):
            continue
        status = get_bound(check.bound).source.status
        values = check.evaluate(context)
        records.append(
            check_record(
                tv,
                check.bound,
                check.label,
                status,
                values,
                side=check.side,
                outside_theory=check.outside_theory(context.spec),
            )
        )
    return records


# ----------------------------------------------------------------------------------- built-in checks
def kde_bandwidths(spec: dict, scenario: Scenario, dim: int):
    """The KDE cell's bandwidth: fixed h, or the power rule's schedule c N_i^(-1/(4+d)) over the generations."""
    model = spec["model"]
    if "bandwidth" in model:
        return model["bandwidth"]
    return model["power_rule"] * scenario.training_sizes(spec["generations"]).astype(float) ** (-1.0 / (4 + dim))


def _is_kde_with_a_mixture_bound(spec: dict) -> bool:
    # a bandwidth rule that changes with the pool size makes an accumulated KDE something other than the mixture the bounds use
    model = spec["model"]
    return (
        model["name"] == "kde"
        and spec["kind"] in ("loop", "phase")
        and ("bandwidth" in model or spec["scenario"]["kind"] != "accumulate")
    )


def _reused(spec: dict) -> bool:
    return spec["scenario"]["kind"] == "mixed_reused"


def _fresh(context: CellContext) -> Scenario:
    """The scenario with fresh real data: a reused pool is evaluated at its fresh-data counterpart."""
    return replace(context.scenario, reuse_real=False)


def _second_moment(context: CellContext):
    bandwidth = kde_bandwidths(context.spec, context.scenario, context.truth.dim)
    return context.memoized(
        "second_moment", lambda: kde_second_moment_terms(context.truth, bandwidth, _fresh(context), context.generations)
    )


def _theorem_k(context: CellContext) -> np.ndarray:
    return kde_bound_for(
        context.truth,
        kde_bandwidths(context.spec, context.scenario, context.truth.dim),
        _fresh(context),
        context.generations,
    )


def _theorem_d(context: CellContext) -> np.ndarray:
    calibration, scenario, spec = context.calibration, context.scenario, context.spec
    bound = get_bound("diffusion_theorem_d").subs(C1=calibration["C1"], C2=calibration["C2"])
    values = dict(
        size=scenario.size,
        initial_size=scenario.initial,
        width=spec["model"]["width"],
        real_fraction=scenario.real_fraction,
        generation=np.arange(spec["generations"] + 1),
    )
    # a calibrated constant of exactly 0 removes its term, and with it that term's symbol (C2 = 0 drops the width)
    return np.atleast_1d(
        bound.evaluate(**{name: value for name, value in values.items() if name in bound.symbol_names})
    )


def _is_mle_with_a_bound(spec: dict) -> bool:
    """The Gaussian MLE on a Gaussian truth, where the exact laws close (fresh data; in d > 1 fully synthetic only)."""
    if spec["model"]["name"] != "mle" or spec["kind"] != "loop":
        return False
    truth, kind = STANDARD_TRUTHS[spec["truth"]](), spec["scenario"]["kind"]
    return truth.components == 1 and kind != "mixed_reused" and (truth.dim == 1 or kind == "fully_synthetic")


register_check(
    "gaussian_mle",
    Check("Gaussian MLE", "mle_tv", _is_mle_with_a_bound, lambda c: mle_bound_for(c.truth, c.scenario, c.generations)),
)
register_check(
    "theorem_k",
    Check("Theorem K", "kde_theorem_k_step", _is_kde_with_a_mixture_bound, _theorem_k, outside_theory=_reused),
)
register_check(
    "second_moment",
    Check(
        "second-moment",
        "kde_second_moment",
        _is_kde_with_a_mixture_bound,
        lambda c: _second_moment(c).upper,
        outside_theory=_reused,
    ),
)
register_check(
    "jensen_lower",
    Check(
        "Jensen lower",
        "kde_jensen_lower",
        _is_kde_with_a_mixture_bound,
        lambda c: _second_moment(c).lower,
        side="lower",
        outside_theory=_reused,
    ),
)
register_check(
    "theorem_d",
    Check(
        "Theorem D",
        "diffusion_theorem_d",
        lambda spec: spec["model"]["name"] == "diffusion" and spec["kind"] == "loop",
        _theorem_d,
        stage="suite",
    ),
)


#: A measured mean farther than this many standard errors from an exact law, at any generation, rejects the law (with
#: up to 31 generations and two quantities per cell, a correct law passes with probability above 0.999).
LAW_Z = 4.5


def mle_law_record(parameters: dict, context: CellContext) -> dict | None:
    r"""The Gaussian MLE loop's exact laws (:func:`selfloop.bounds.mle_moments`) against the cell's fitted parameters.

    Two quantities per generation, each as replicate mean, standard error, law and z-score: the whitened fitted variance
    (:math:`\sigma_i^2/\sigma^2` in 1-D, :math:`\operatorname{tr}(\Sigma^{-1}\Sigma_i)/d` in d dimensions) and the squared
    Mahalanobis error of the fitted mean, :math:`\Delta_i^2`. ``holds``: every |z| below :data:`LAW_Z`.
    """
    kind = context.spec["scenario"]["kind"]
    applies = context.spec["model"]["name"] == "mle" and context.truth.components == 1 and kind != "mixed_reused"
    if not parameters or not applies or (context.truth.dim > 1 and kind == "accumulate"):
        return None
    law = mle_moments(context.truth, context.scenario, context.generations)
    covariance, mean = context.truth.covariances[0], context.truth.means[0]
    precision, dim = np.linalg.inv(covariance), context.truth.dim
    if dim == 1:
        variance = parameters["variance"] / covariance[0, 0]
        offset = (parameters["mean"] - mean[0]) ** 2 / covariance[0, 0]
    else:
        variance = np.einsum("ij,rgji->rg", precision, parameters["covariance"]) / dim
        error = parameters["mean"] - mean
        offset = np.einsum("rgi,ij,rgj->rg", error, precision, error)
    laws = {"variance": np.einsum("ij,gji->g", precision, law.covariance) / dim, "mean_offset": law.mean_deviation**2}
    record = {}
    for name, samples in (("variance", variance), ("mean_offset", offset)):
        measured, stderr = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
        z = (measured - laws[name]) / stderr
        record[name] = {
            "measured": measured.tolist(),
            "stderr": stderr.tolist(),
            "law": laws[name].tolist(),
            "max_abs_z": float(np.max(np.abs(z))),
        }
    record["holds"] = all(record[name]["max_abs_z"] < LAW_Z for name in ("variance", "mean_offset"))
    record["z_limit"] = LAW_Z
    return record


def kde_predictors(context: CellContext) -> dict:
    """Non-rigorous predictors shown beside the checks: the folded-normal value of the second-moment computation."""
    if not _is_kde_with_a_mixture_bound(context.spec):
        return {}
    return {"folded_normal": [float(x) for x in _second_moment(context).folded_normal]}


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
