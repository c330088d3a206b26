"""How the report words a verdict: counts, ratios and verdict text, one rule for each, shared by every section."""

from __future__ import annotations

import numpy as np

from .figures import finite_tightness

__all__ = ["certified_runs", "checks_of", "counts", "fmt", "on_the_wrong_side", "p_text", "ratio_text", "verdict_text"]


def on_the_wrong_side(check: dict) -> bool:
    """Whether the mean TV's point estimate is beyond the bound at some generation (above an upper bound, below a lower).

    ``max_ratio`` is mean / bound (upper) or bound / mean (lower); 1e-12 relative absorbs rounding at a tie.
    """
    return check["verdict"]["max_ratio"] > 1 + 1e-12


def counts(checks: list[dict]) -> tuple[int, int, int, int]:
    """(refuted, held, beyond, underpowered).

    *Held*: could see a 2x violation, did not refute, and the mean TV is on the right side of the bound at every
    generation. *Beyond*: not refuted, but the mean's point estimate is past the bound somewhere (never "held").
    *Underpowered*: the rest (not counted as a check).
    """
    refuted = sum(c["verdict"]["refuted"] for c in checks)
    beyond = sum(not c["verdict"]["refuted"] and on_the_wrong_side(c) for c in checks)
    underpowered = sum(
        c["verdict"]["underpowered"] and not c["verdict"]["refuted"] and not on_the_wrong_side(c) for c in checks
    )
    return refuted, len(checks) - refuted - beyond - underpowered, beyond, underpowered


def fmt(value: float) -> str:
    return f"{value:.4f}"


def p_text(p_value: float) -> str:
    return "p ≥ 0.5" if p_value >= 0.5 else f"p = {p_value:.2g}"


def verdict_text(check: dict) -> str:
    verdict = check["verdict"]
    detectable = verdict["detectable_ratio"]
    power = f"sees ×{detectable:.2f}" if detectable else "sees nothing up to ×10"
    if verdict["refuted"]:
        state = f"**REFUTED** ({p_text(verdict['p_value'])}, generation {verdict['worst_generation']})"
    elif on_the_wrong_side(check):
        where = "below the bound" if check["side"] == "lower" else "above the bound"
        state = f"{where}, not significant ({p_text(verdict['p_value'])}; {power})"
    elif verdict["underpowered"]:
        state = f"underpowered ({p_text(verdict['p_value'])}; {power})"
    else:
        state = f"holds ({p_text(verdict['p_value'])}; {power})"
    return ("outside the theory: " if check["outside_theory"] else "") + state


def ratio_text(check: dict | None) -> str:
    if check is None:
        return "—"
    tightness = finite_tightness(check)
    return f"{min(tightness):.2f}–{max(tightness):.2f}" if tightness else "—"


def checks_of(
    cells: list[dict], theorem: str, kinds: tuple[str, ...] | None = None, side: str = "upper", outside: bool = False
) -> list[dict]:
    """The records of theorem ``theorem`` (by id) on ``side`` in cells of the scenario ``kinds`` (all if None)."""
    return [
        c
        for cell in cells
        if kinds is None or cell["spec"]["scenario"]["kind"] in kinds
        for c in cell.get("checks", [])
        if c["theorem"] == theorem and c["side"] == side and c["outside_theory"] == outside
    ]


def certified_runs(cells: list[dict], key: str = "certificate") -> tuple[int, int, list[float]]:
    """(runs where TV <= the per-run bound ``key`` at every generation, runs, bound / TV per run and generation).

    ``key``: ``"certificate"`` (Theorem G against p0) or ``"lemma_r_certified"`` (Lemma R on the certified eps_i);
    the per-run verdicts are :func:`selfloop.reports.verdicts.decide`'s ``certificate_held`` and ``lemma_r_held``.
    """
    verdicts = {"certificate": "certificate_held", "lemma_r_certified": "lemma_r_held"}
    held, total, ratios = 0, 0, []
    for cell in cells:
        if cell.get(key) is None:
            continue
        tv, bound = np.asarray(cell["tv"]), np.asarray(cell[key])
        held += int(np.sum(np.all(cell[verdicts[key]], axis=1)))
        total += tv.shape[0]
        ratios += (bound / np.where(tv > 0, tv, np.nan)).ravel().tolist()
    return held, total, [r for r in ratios if np.isfinite(r)]
