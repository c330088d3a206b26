"""How the report words a verdict: the records of a claim in a cell, counts, ratios and verdict text, one rule for
each, shared by every section and by every claim's rows of the claims table."""

from __future__ import annotations

import numpy as np

from .records import CellRecord, ResultsDocument
from .verdicts import OUTCOMES, on_the_wrong_side

__all__ = [
    "bound_rows",
    "claim_verdicts",
    "counts",
    "finite_tightness",
    "fmt",
    "outcome_row",
    "p_text",
    "per_run_ratios",
    "ratio_text",
    "side_records",
    "sides_of",
    "verdict_text",
]


def side_records(cell: CellRecord) -> list[dict]:
    """The cell's bound sides, one flat record each: ``{"claim", "side", "label", "status", "values", "verdict",
    "outside_theory"}`` (every verdict of kind ``bound`` of every claim record, upper before lower)."""
    out = []
    for claim, record in cell.claims.items():
        for side, verdict in record.verdicts.items():
            if verdict["kind"] == "bound":
                out.append(
                    {
                        "claim": claim,
                        "side": side,
                        "label": record.labels.get(side, record.label),
                        "status": record.status,
                        "values": record.values[side],
                        "verdict": verdict,
                        "outside_theory": record.outside_theory,
                    }
                )
    return out


def sides_of(
    cells: list[CellRecord],
    claim: str,
    kinds: tuple[str, ...] | None = None,
    side: str = "upper",
    outside: bool = False,
) -> list[dict]:
    """The bound sides of claim ``claim`` on ``side`` in cells of the scenario ``kinds`` (all if None), inside the
    theory or, with ``outside``, outside it."""
    return [
        record
        for cell in cells
        if kinds is None or cell.scenario_kind in kinds
        for record in side_records(cell)
        if record["claim"] == claim and record["side"] == side and record["outside_theory"] == outside
    ]


def claim_verdicts(cells: list[CellRecord], claim: str) -> list[dict]:
    """Every verdict of claim ``claim`` in ``cells``, each with its cell's ``tv`` and the values it judged: the side's
    for a bound side, the ``upper`` values (a per-run bound) otherwise."""
    return [
        {
            **verdict,
            "tv": cell.tv,
            "values": cell.claims[claim].values.get(name if verdict["kind"] == "bound" else "upper"),
        }
        for cell in cells
        if claim in cell.claims
        for name, verdict in cell.claims[claim].verdicts.items()
    ]


def cells_with(document: ResultsDocument, claim: str, kind: str | None = None) -> list[CellRecord]:
    """The document's cells that hold a record of ``claim`` (of scenario ``kind`` only, if given)."""
    return document.cells_with(claim, kind)


def law_outcome(cells: list[CellRecord], claim: str) -> str:
    """How an exact law fared over ``cells``: cells rejected (any of its law verdicts) and holding, the largest |z| and
    the limit, e.g. ``0 rejected / 3 hold (max abs z 1.25, limit 4.5)``."""
    verdicts = [list(cell.claims[claim].verdicts.values()) for cell in cells]
    rejected = sum(any(v["outcome"] == "refuted" for v in verdict) for verdict in verdicts)
    worst = max(v["max_abs_z"] for verdict in verdicts for v in verdict)
    return f"{rejected} rejected / {len(cells) - rejected} hold (max abs z {worst:.2f}, limit {verdicts[0][0]['z_limit']:g})"


def counts(sides: list[dict]) -> tuple[int, ...]:
    """(refuted, held, beyond, underpowered, sample_only) over bound sides.

    *Held*: could see a 2x violation, did not refute, and the mean TV is on the right side of the bound at every
    generation. *Beyond*: not refuted, but the mean's point estimate is past the bound somewhere (never "held").
    *Underpowered*: the rest (not counted as a check). *Sample-only*: a bound the TV witness of a model known only by
    its samples did not refute (a witness can refute, never confirm).
    """
    found = [side["verdict"]["outcome"] for side in sides]
    return tuple(found.count(outcome) for outcome in OUTCOMES)


def finite_tightness(side: dict) -> list[float]:
    """A bound side's bound / mean TV per generation, where finite."""
    return [x for x in side["verdict"]["tightness"] if x is not None and np.isfinite(x)]


def per_run_ratios(verdicts: list[dict]) -> list[float]:
    """Bound / TV per run and generation of per-run verdicts (with their ``tv`` and ``values``), where finite."""
    ratios = []
    for verdict in verdicts:
        tv, bound = np.asarray(verdict["tv"], dtype=float), np.asarray(verdict["values"], dtype=float)
        ratios += (bound / np.where(tv > 0, tv, np.nan)).ravel().tolist()
    return [r for r in ratios if np.isfinite(r)]


def outcome_row(sides: list[dict]) -> tuple[str, str, str]:
    """The claims table's ``(checks, refuted / held / beyond / underpowered, bound / mean)`` of bound sides; the bounds
    a sample-only model's witness did not refute are counted after them, where there are any."""
    if not sides:
        return "0", "—", "—"
    tightness = [min(finite_tightness(side)) for side in sides if finite_tightness(side)]
    *tested, sample_only = counts(sides)
    return (
        str(len(sides)),
        " / ".join(str(n) for n in tested) + (f" (+{sample_only} sample-only)" if sample_only else ""),
        f"{min(tightness):.2f}–{max(tightness):.2f}" if tightness else "—",
    )


def bound_rows(rows: list[tuple[str, str, str, list[dict]]]) -> list[tuple]:
    """Claims-table rows ``(claim, whose, tested by, bound sides)`` with their outcome columns, where any side is found."""
    return [(claim, whose, tested, *outcome_row(found)) for claim, whose, tested, found in rows if found]


def fmt(value: float) -> str:
    return f"{value:.4f}"


def p_text(p_value: float) -> str:
    return "p ≥ 0.5" if p_value >= 0.5 else f"p = {p_value:.2g}"


def verdict_text(side: dict) -> str:
    verdict = side["verdict"]
    detectable = verdict["detectable_ratio"]
    power = f"sees ×{detectable:.2f}" if detectable else "sees nothing up to ×10"
    if verdict.get("witness"):  # a model known only by its samples: the witness refutes, or says nothing more
        if verdict["refuted"]:
            return f"**REFUTED** by the TV witness ({p_text(verdict['p_value'])}, generation {verdict['worst_generation']})"
        return f"not refuted (sample-only; {p_text(verdict['p_value'])}; the witness {power})"
    if verdict["refuted"]:
        state = f"**REFUTED** ({p_text(verdict['p_value'])}, generation {verdict['worst_generation']})"
    elif on_the_wrong_side(verdict):
        where = "below the bound" if side["side"] == "lower" else "above the bound"
        state = f"{where}, not significant ({p_text(verdict['p_value'])}; {power})"
    elif verdict["underpowered"]:
        state = f"underpowered ({p_text(verdict['p_value'])}; {power})"
    else:
        state = f"holds ({p_text(verdict['p_value'])}; {power})"
    return ("outside the theory: " if side["outside_theory"] else "") + state


def ratio_text(side: dict | None) -> str:
    if side is None:
        return "—"
    tightness = finite_tightness(side)
    return f"{min(tightness):.2f}–{max(tightness):.2f}" if tightness else "—"
