"""A claim, the unit of the harness: what it says, which cells test it, what the loop must measure for it, its values,
its verdict and its part of the report, in one registered object.

A claim subclasses :class:`Claim`, sets ``id`` and ``label`` and overrides :meth:`Claim.evaluate`; everything else
has a default. :func:`register_claim` adds it to :data:`CLAIMS`, and from then on every part of the harness iterates
over it: the sweep evaluates it on every cell it applies to, ``decide`` makes its verdicts, the claims table gives it
a row, the cell tables a column, results.json its records and ``scloop check`` compares them.

Examples
--------
>>> import numpy as np
>>> class Ceiling(Claim):
...     id, label = "ceiling", "TV below 0.999"
...     def evaluate(self, cell):
...         return {"upper": np.full(cell.tv.shape[1], 0.999)}
>>> with CLAIMS.scoped():
...     _ = register_claim(Ceiling())
...     "ceiling" in CLAIMS
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from selfloop.bounds import get_bound
from selfloop.simulators import Registry, Scenario, standard_truth

from ..cells import CellSpec
from ..records import CellRecord, CellResult, ClaimRecord, ResultsDocument, require_tv
from ..text import claim_verdicts, outcome_row, sides_of
from ..verdicts import OUTCOMES, bound_verdict, witness_verdict

__all__ = ["CLAIMS", "Cell", "Claim", "claim_label", "record_claims", "register_claim"]


@dataclass
class Cell:
    """One cell as a claim sees it: its typed specification, the measured TVs and the loop's other measurements.

    Attributes
    ----------
    spec : CellSpec
    tv : ndarray (replicates, generations + 1) or None
        Each replicate's exact TV to the truth at every generation; None for a model known only by its samples, whose
        TV witnesses are :attr:`tv_lower`.
    real_fraction, training_size : ndarray (generations + 1,)
    measured : dict of ndarray
        The loop measures' fields that the cell's claims asked for (:meth:`Claim.measures`), e.g. ``one_step`` or
        ``certificate``, (replicates, generations + 1) each.
    suite : object or None
        What a claim that needs the whole suite prepared for it (:meth:`Claim.prepare`; Theorem D's calibration).
    """

    spec: CellSpec
    tv: np.ndarray | None
    real_fraction: np.ndarray
    training_size: np.ndarray
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    suite: Any = None

    @cached_property
    def truth(self):
        """The cell's truth, a :class:`selfloop.simulators.GaussianMixture`."""
        return standard_truth(self.spec.truth)

    @property
    def scenario(self) -> Scenario:
        return self.spec.scenario

    @property
    def collapsed_at(self) -> np.ndarray:
        """The generation at which each replicate's fit collapsed, -1 where it never did
        (:attr:`selfloop.simulators.LoopResult.collapsed_at`)."""
        found = self.measured.get("collapsed_at")
        return np.full(self.spec.replicates, -1) if found is None else np.asarray(found).astype(int)

    def exact_tv(self) -> np.ndarray:
        """:attr:`tv`; a ``ValueError`` for a model known only by its samples, which has :attr:`tv_lower` instead."""
        return require_tv(self.tv, self.spec)

    @property
    def tv_lower(self) -> np.ndarray | None:
        """The TV witnesses of a sample-only cell (means at most the TV), (replicates, generations + 1); else None."""
        return self.measured.get("tv_lower")

    @property
    def generations(self) -> int:
        return self.spec.generations

    @classmethod
    def from_result(cls, result: CellResult, suite: object | None = None) -> Cell:
        """The claims' view of a worker's result (:class:`selfloop.reports.records.CellResult`)."""
        return cls(result.spec, result.tv, result.real_fraction, result.training_size, dict(result.measured), suite)


class Claim:
    """One claim about self-consuming loops, checked against the cells it applies to.

    Class attributes
    ----------------
    id : str
        The key of every record, table and ``scloop check`` (``"theorem_k"``).
    label : str
        How the report names it, nothing else.
    statement : str
        What it says, as the claims table words it (default: the label).
    whose : str
        Whose claim it is: the paper's (re-derived), beyond the paper, another paper's (with its arXiv id).
    bound, lower : str or None
        The registered :class:`selfloop.bounds.Bound` of its upper and lower side, if it has them: the formula the
        report prints is the one evaluated, and the claim's status (rigorous or calibrated) is the bound's.
    status : str
        Shown beside the label where no bound says it.
    needs_suite : bool
        Evaluated when the suite is assembled, after :meth:`prepare` saw every cell (Theorem D's calibration).
    in_cell_table : bool
        Whether the scenario tables give it columns.
    record_rtol : float or None
        The relative tolerance ``scloop check`` compares its suite-wide record to (None: ``FLOAT_RTOL``, which absorbs
        only platform rounding). A record that is an ill-conditioned function of its cells' values (a fit) amplifies
        their rounding, and says by how much here; its inputs are still compared at ``FLOAT_RTOL`` in the cells.
    line_style : matplotlib line style
        How the scenario figures (and the phase transition's) draw its bound's curve.
    per_run_label : str
        What the scenario tables call its per-run bound (a claim whose verdicts are ``per_run``).
    phase_curve : str or None
        Whether the phase-transition figure draws its bound against the amount of synthetic data: ``"as is"`` or
        ``"rescaled"`` (to the data's largest mean, for a bound far above it); None: not drawn.
    reads : tuple of str
        The claims whose records its report hooks read (:meth:`read`): a declared dependency, not a name in passing.
    figures : tuple of str
        The files (glob patterns) its section writes: removed before a report is written into the same folder.
    """

    id: ClassVar[str]
    label: ClassVar[str]
    statement: ClassVar[str] = ""
    whose: ClassVar[str] = "a plugin"
    bound: ClassVar[str | None] = None
    lower: ClassVar[str | None] = None
    lower_label: ClassVar[str | None] = None
    status: ClassVar[str] = "unstated"
    needs_suite: ClassVar[bool] = False
    in_cell_table: ClassVar[bool] = True
    record_rtol: ClassVar[float | None] = None
    line_style: ClassVar[Any] = "--"
    per_run_label: ClassVar[str] = "per-run bound"
    phase_curve: ClassVar[str | None] = None
    reads: ClassVar[tuple[str, ...]] = ()
    figures: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ which cells, what to measure
    def applies(self, spec: CellSpec) -> bool:
        """Which cells test it (default: every loop cell, the cells that measure TV)."""
        return spec.kind == "loop"

    @property
    def witness_testable(self) -> bool:
        """Whether a sample-only cell can test it: a claim with an upper bound decided by the default rule (the TV
        witness can refute an upper bound on E TV_i, never a lower bound or a law)."""
        return self.bound is not None and type(self).decide is Claim.decide

    def decided_in(self, spec: CellSpec) -> bool:
        """Whether the cell tests it: it applies, and a sample-only cell only what the witness can decide."""
        return self.applies(spec) and (not spec.sample_only or self.witness_testable)

    def decided_on(self, cell: Cell) -> bool:
        """Whether the run cell tests it: :meth:`decided_in` its specification, and an exact law only where no replicate
        collapsed (a law describes the loop that goes on fitting; a collapsed replicate stopped, and the ones left are
        no longer a sample of that loop). A bound on E TV is tested either way: a collapsed fit is at TV 1."""
        return self.decided_in(cell.spec) and (self.status != "exact law" or not np.any(cell.collapsed_at >= 0))

    def measures(self, spec: CellSpec) -> tuple[str, ...]:
        """The loop measures it needs beside TV, by name (:mod:`selfloop.simulators.measures`)."""
        return ()

    def outside_theory(self, spec: CellSpec) -> bool:
        """Cells where its assumptions fail: the verdict is reported, not expected."""
        return False

    # ------------------------------------------------------------------ values and verdicts
    def prepare(self, cells: list[CellResult]) -> Any:
        """For a claim that ``needs_suite``: what it needs from the whole suite's results, once (handed in as
        ``cell.suite``)."""
        return None

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        """Its values for one cell, named arrays: ``upper`` and ``lower`` for the sides of a bound on E TV_i
        (G + 1,), per-run bounds (R, G + 1), or anything its own :meth:`decide` reads. Empty: no record."""
        raise NotImplementedError(f"claim {self.id!r}: evaluate(cell) is not implemented")

    def decide(self, values: dict[str, np.ndarray], cell: Cell) -> dict[str, dict]:
        """Its verdicts for one cell, by name (default: :func:`selfloop.reports.verdicts.bound_verdict` on each side
        it has, ``upper`` and ``lower``)."""
        return {
            side: bound_verdict(cell.exact_tv(), values[side], side) for side in ("upper", "lower") if side in values
        }

    def record(self, values: dict[str, np.ndarray], cell: Cell) -> ClaimRecord:
        """Its record in one cell: ``values`` and the verdicts :meth:`decide` makes of them; in a sample-only cell its
        upper side against the TV witnesses (:func:`selfloop.reports.verdicts.witness_verdict`), its lower side left
        out (a witness cannot test it)."""
        arrays = {name: np.asarray(value, dtype=float) for name, value in values.items()}
        if cell.spec.sample_only:
            arrays.pop("lower", None)
            witnesses = cell.tv_lower
            if "upper" in arrays and witnesses is None:
                raise ValueError(f"cell {cell.spec.key}: a sample-only cell measured no TV witnesses (tv_lower)")
            verdicts = (
                {"upper": witness_verdict(witnesses, arrays["upper"])}
                if witnesses is not None and "upper" in arrays
                else {}
            )
        else:
            verdicts = self.decide(arrays, cell)
        return ClaimRecord(
            self.label,
            {side: self.side_label(side) for side in ("upper", "lower") if side in arrays},
            self.state(),
            bool(self.outside_theory(cell.spec)),
            arrays,
            verdicts,
        )

    def summarize(self, cells: list[CellRecord], prepared: Any) -> dict | list | None:
        """Its suite-wide record (results.json ``claims``, JSON-ready), from the assembled cells (default: ``prepared``)."""
        return prepared

    # ------------------------------------------------------------------ the report
    def side_label(self, side: str) -> str:
        return (self.lower_label or self.label) if side == "lower" else self.label

    def state(self) -> str:
        """Rigorous, calibrated, ...: its bound's status, else :attr:`status`."""
        name = self.bound or self.lower
        return get_bound(name).source.status if name else self.status

    def rows(self, document: ResultsDocument) -> list[tuple]:
        """Its rows of the claims table: ``(claim, whose, tested by, checks, outcome counts, tightness)`` strings.

        Default: a row for each bound side it has, over the cells inside its theory (the upper side under
        :attr:`statement`), and one row counting its other verdicts (per run, laws) by outcome.
        """
        cells, rows = document.cells, []
        for side in ("upper", "lower"):
            found = sides_of(cells, self.id, side=side)
            if found:
                claim = (
                    (self.statement or self.label) if side == "upper" else f"… its lower side, {self.side_label(side)}"
                )
                rows.append((claim, self.whose, self.side_label(side), *outcome_row(found)))
        others = [verdict["outcome"] for verdict in claim_verdicts(cells, self.id) if verdict["kind"] != "bound"]
        if others:
            counted = " / ".join(str(others.count(outcome)) for outcome in OUTCOMES)
            rows.append((self.statement or self.label, self.whose, self.label, str(len(others)), counted, "—"))
        return rows

    def read(self, cell: CellRecord, claim: str) -> ClaimRecord | None:
        """The record of ``claim`` in a document's ``cell`` (None where it has none), for a claim that declared it in
        :attr:`reads`; any other raises ``ValueError``."""
        if claim not in self.reads:
            raise ValueError(f"claim {self.id!r} reads {claim!r} without declaring it in reads")
        return cell.claims.get(claim)

    def table_note(self, cells: list[CellRecord]) -> list[str]:
        """Lines under a scenario table of ``cells`` (a document's), for what the table cannot say (default: none)."""
        return []

    def headline(self, document: ResultsDocument) -> list[str]:
        """Its lines of the report's headline, beside the tally of every bound (default: none)."""
        return []

    def section(self, document: ResultsDocument, out: Path) -> list[str]:
        """Its section of the report, figures written into ``out`` (default: none)."""
        return []


def _check_claim(claim: Claim) -> None:
    if not isinstance(claim, Claim):
        raise ValueError(f"claim must be an instance of a Claim subclass, got {claim!r}")
    for name in ("id", "label"):
        if not isinstance(getattr(claim, name, None), str) or not getattr(claim, name):
            raise ValueError(f"claim {type(claim).__name__}: {name} must be a non-empty string")
    for bound in (claim.bound, claim.lower):
        if bound is not None:
            get_bound(bound)


#: Every claim the harness checks, in the order the report lists them.
CLAIMS: Registry[Claim] = Registry("claim", _check_claim)


def register_claim(claim: Claim, *, replace: bool = False) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` under its id (a taken id needs ``replace=True``).

    Register in a plugin (entry point ``scloop.plugins``) so that worker processes see it too.
    """
    _check_claim(claim)  # before its id is read
    return CLAIMS.register(claim.id, claim, replace=replace)


def record_claims(cell: Cell, claims, prepared: dict | None = None) -> dict[str, ClaimRecord]:
    """The one evaluate-and-record path: each of ``claims`` that the cell decides (:meth:`Claim.decided_on`),
    evaluated and decided, by id (a claim with no values has no record). A claim that needs the suite is recorded
    only with ``prepared`` (what its :meth:`Claim.prepare` gave, by id, handed in as ``cell.suite``): in the assembly,
    not where the cell ran."""
    records = {}
    for claim in claims:
        if not claim.decided_on(cell):
            continue
        if claim.needs_suite:
            if prepared is None:
                continue
            cell.suite = prepared[claim.id]
        values = claim.evaluate(cell)
        if values:
            records[claim.id] = claim.record(values, cell)
    return records


def claim_label(claim_id: str) -> str:
    """The display label of a registered claim (the id itself for one no longer registered)."""
    return CLAIMS.get(claim_id).label if claim_id in CLAIMS else claim_id
