"""The theorems the harness checks, one registered object each.

A :class:`Theorem` has an ``id`` (the key every result, the report and ``scloop check`` look it up by), a display
``label``, its symbolic upper :class:`selfloop.bounds.Bound` (so the formula the report prints is the one evaluated),
an optional lower bound, which cells it applies to, and ``evaluate(context)``, which returns the bound's values for
a cell with their terms (:class:`TheoremValues`). A theorem that needs the whole suite (Theorem D's constants are
calibrated on the suite's calibration cells) says ``needs_calibration``; it is evaluated when the suite is assembled.

Evaluation gives values, not verdicts: every verdict is made in one stage, :func:`selfloop.reports.verdicts.decide`.

Built in, in the order cells list them:

===============  ==============  =====================================  ========================
id               label           upper bound (lower bound)              cells
===============  ==============  =====================================  ========================
gaussian_mle     Gaussian MLE    ``mle_tv``                             Gaussian MLE loops
theorem_k        Theorem K       ``kde_theorem_k_step``                 KDE loops and phase cells
second_moment    second-moment   ``kde_second_moment``                  KDE loops and phase cells
                                 (``kde_jensen_lower``, Jensen lower)
theorem_d        Theorem D       ``diffusion_theorem_d`` (calibrated)   diffusion loops
===============  ==============  =====================================  ========================

A plugin adds its own with :func:`register_theorem` (docs/extending.md).

Examples
--------
>>> [THEOREMS.get(name).label for name in THEOREMS]
['Gaussian MLE', 'Theorem K', 'second-moment', 'Theorem D']
>>> THEOREMS.get("second_moment").sides()
[('upper', 'kde_second_moment', 'second-moment'), ('lower', 'kde_jensen_lower', 'Jensen lower')]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from selfloop.bounds import Registry, get_bound, kde_bound_terms, kde_second_moment_terms, mle_bound_for
from selfloop.simulators import STANDARD_TRUTHS, Scenario

__all__ = [
    "THEOREMS",
    "CellContext",
    "Theorem",
    "TheoremValues",
    "bound_records",
    "kde_bandwidths",
    "register_theorem",
    "theorem_label",
]


@dataclass
class CellContext:
    """What a theorem needs to evaluate its bound for one cell.

    Attributes
    ----------
    spec : dict
        The cell specification (:mod:`selfloop.reports.suites`).
    truth : GaussianMixture
    scenario : Scenario
    generations : int
    calibration : dict or None
        The suite's Theorem D calibration (``C1``, ``C2``), for theorems with ``needs_calibration``.
    memo : dict
        Shared by the theorems of one cell, so two of one computation pay for it once.
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


@dataclass
class TheoremValues:
    """A theorem's values for one cell, per generation: its upper bound, its lower bound if it has one, and the terms
    they are made of (for the report's tables)."""

    upper: np.ndarray | None
    lower: np.ndarray | None = None
    terms: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Theorem:
    """One theorem the harness checks.

    Attributes
    ----------
    id : str
        The key results are stored and looked up by (``"theorem_k"``).
    label : str
        How the report names it (``"Theorem K"``).
    bound : str or None
        The registered :class:`selfloop.bounds.Bound` of its upper side; its status (rigorous or calibrated) is the
        bound's. None for a theorem with a lower side only.
    applies : callable ``spec -> bool``
        Which cells it checks.
    evaluate : callable ``CellContext -> TheoremValues``
        Its values for a cell.
    lower : str or None
        The registered Bound of its lower side (a bound on E TV_i from below), if any.
    lower_label : str or None
        How the report names the lower side (default: the label).
    needs_calibration : bool
        Evaluated once the suite's calibration is known (Theorem D), not with the cell.
    outside_theory : callable ``spec -> bool``
        Cells where its assumptions fail: the verdict is reported, not expected.
    """

    id: str
    label: str
    bound: str | None
    applies: Callable[[dict], bool]
    evaluate: Callable[[CellContext], TheoremValues]
    lower: str | None = None
    lower_label: str | None = None
    needs_calibration: bool = False
    outside_theory: Callable[[dict], bool] = lambda spec: False

    def sides(self) -> list[tuple[str, str, str]]:
        """``(side, bound name, label)`` of each side it has: upper first."""
        out = [("upper", self.bound, self.label)] if self.bound is not None else []
        if self.lower is not None:
            out.append(("lower", self.lower, self.lower_label or self.label))
        return out


#: The theorems every report checks, in the order cells list them.
THEOREMS: Registry[Theorem] = Registry("theorem")


def register_theorem(theorem: Theorem, *, replace: bool = False) -> Theorem:
    """Add ``theorem`` to :data:`THEOREMS` under its id (its bounds must be registered)."""
    if theorem.bound is None and theorem.lower is None:
        raise ValueError(f"theorem {theorem.id!r}: needs an upper bound, a lower bound or both")
    for _, name, _ in theorem.sides():
        get_bound(name)
    return THEOREMS.register(theorem.id, theorem, replace=replace)


def bound_records(context: CellContext, *, calibrated: bool) -> list[dict]:
    """The values of every registered theorem that applies to the cell, one record per side, without verdicts.

    ``calibrated`` selects the theorems that need the suite's calibration (evaluated at assembly) or the others
    (evaluated with the cell). A record is ``{"theorem", "bound", "label", "status", "side", "values",
    "outside_theory"}``; :func:`selfloop.reports.verdicts.decide` adds its verdict.
    """
    records = []
    for name in THEOREMS:
        theorem = THEOREMS.get(name)
        if theorem.needs_calibration != calibrated or not theorem.applies(context.spec):
            continue
        values = theorem.evaluate(context)
        for side, bound, label in theorem.sides():
            records.append(
                {
                    "theorem": theorem.id,
                    "bound": bound,
                    "label": label,
                    "status": get_bound(bound).source.status,
                    "side": side,
                    "values": [float(x) for x in np.atleast_1d(values.upper if side == "upper" else values.lower)],
                    "outside_theory": theorem.outside_theory(context.spec),
                }
            )
    return records


# ----------------------------------------------------------------------------------- built-in theorems
def kde_bandwidths(spec: dict, scenario: Scenario, dim: int):
    """The KDE cell's bandwidth: fixed h, or the power rule's schedule c N_i^(-1/(4+d)) over the generations."""
    model = spec["model"]
    if "bandwidth" in model:
        return model["bandwidth"]
    return model["power_rule"] * scenario.training_sizes(spec["generations"]).astype(float) ** (-1.0 / (4 + dim))


def is_kde_with_a_mixture_bound(spec: dict) -> bool:
    """A KDE loop or phase cell whose KDE is the mixture the bounds use (a bandwidth rule that changes with the pool
    size makes an accumulated KDE something else)."""
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


def second_moment_terms(context: CellContext):
    """The cell's second-moment computation (:func:`selfloop.bounds.kde_second_moment_terms`), once per cell."""
    bandwidth = kde_bandwidths(context.spec, context.scenario, context.truth.dim)
    return context.memoized(
        "second_moment", lambda: kde_second_moment_terms(context.truth, bandwidth, _fresh(context), context.generations)
    )


def _theorem_k(context: CellContext) -> TheoremValues:
    """Theorem K at the cell's fresh-data scenario, with its terms: the smoothing bias B and the sampling bound."""
    bandwidth = kde_bandwidths(context.spec, context.scenario, context.truth.dim)
    terms = kde_bound_terms(context.truth, bandwidth, _fresh(context), context.generations)
    return TheoremValues(terms.total, None, {"bias": terms.bias, "sampling": terms.sampling})


def _second_moment(context: CellContext) -> TheoremValues:
    """The sandwich: the second-moment bound above, Jensen's below, and the folded-normal predictor as a term."""
    terms = second_moment_terms(context)
    return TheoremValues(terms.upper, terms.lower, {"folded_normal": terms.folded_normal})


def _theorem_d(context: CellContext) -> TheoremValues:
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
    return TheoremValues(
        np.atleast_1d(bound.evaluate(**{name: value for name, value in values.items() if name in bound.symbol_names}))
    )


def is_mle_with_a_bound(spec: dict) -> bool:
    """The Gaussian MLE on a Gaussian truth, where the exact laws close (fresh data; in d > 1 fully synthetic only)."""
    if spec["model"]["name"] != "mle" or spec["kind"] != "loop":
        return False
    truth, kind = STANDARD_TRUTHS[spec["truth"]](), spec["scenario"]["kind"]
    return truth.components == 1 and kind != "mixed_reused" and (truth.dim == 1 or kind == "fully_synthetic")


register_theorem(
    Theorem(
        "gaussian_mle",
        "Gaussian MLE",
        "mle_tv",
        is_mle_with_a_bound,
        lambda c: TheoremValues(mle_bound_for(c.truth, c.scenario, c.generations)),
    )
)
register_theorem(
    Theorem(
        "theorem_k", "Theorem K", "kde_theorem_k_step", is_kde_with_a_mixture_bound, _theorem_k, outside_theory=_reused
    )
)
register_theorem(
    Theorem(
        "second_moment",
        "second-moment",
        "kde_second_moment",
        is_kde_with_a_mixture_bound,
        _second_moment,
        lower="kde_jensen_lower",
        lower_label="Jensen lower",
        outside_theory=_reused,
    )
)
register_theorem(
    Theorem(
        "theorem_d",
        "Theorem D",
        "diffusion_theorem_d",
        lambda spec: spec["model"]["name"] == "diffusion" and spec["kind"] == "loop",
        _theorem_d,
        needs_calibration=True,
    )
)


def theorem_label(theorem_id: str) -> str:
    """The display label of a registered theorem (the id itself for one no longer registered)."""
    return THEOREMS.get(theorem_id).label if theorem_id in THEOREMS else theorem_id
