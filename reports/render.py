"""Rendering the results document: tightness.md and PNG figures (matplotlib, Agg), written atomically."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from selfloop.bounds import registered_bounds
from selfloop.simulators.atomic import write_atomic

from .claims import CLAIMS, claim_label, claims_lines
from .figures import FIGURE_PATTERNS, figure_scenarios, figure_summary, upper_claims, upper_sides
from .legacy import upgrade
from .records import CellRecord, ResultsDocument
from .text import counts, finite_tightness, fmt, per_run_ratios, ratio_text, side_records, verdict_text

__all__ = ["render", "write_results"]


def write_results(document: dict, path: Path) -> None:
    write_atomic(Path(path), json.dumps(document, indent=1))


def _scenario_group(cell: CellRecord) -> str:
    return cell.scenario_kind


def _in_table(claim: str) -> bool:
    """Whether the scenario tables give a claim columns (a claim no longer registered: yes)."""
    return claim not in CLAIMS or CLAIMS.get(claim).in_cell_table


def _per_run_label(claim: str) -> str:
    """How the tables name a claim's per-run bound (:attr:`Claim.per_run_label`)."""
    return CLAIMS.get(claim).per_run_label if claim in CLAIMS else "per-run bound"


def _cell_table(cells: list[CellRecord]) -> list[str]:
    """One row per cell: the mean TV, then per claim with a bound, bound / mean and its verdict; the lower side;
    per claim with per-run bounds, bound / TV over the runs and how many runs held."""
    claims = upper_claims(cells, list(CLAIMS))
    labels = [claim_label(claim) for claim in claims]
    lower = next((side["label"] for cell in cells for side in side_records(cell) if side["side"] == "lower"), None)
    per_run = [
        name
        for name in dict.fromkeys(n for cell in cells for n, r in cell.claims.items() if "per_run" in r.verdicts)
        if _in_table(name)
    ]
    witness = all(cell.summary.get("quantity") == "tv_lower" for cell in cells)
    columns = [
        "cell",
        "mean TV witness (its mean ≤ TV) ± 95% CI (last gen.)" if witness else "mean TV ± 95% CI (last gen.)",
    ]
    columns += [f"{label}: {what}" for label in labels for what in ("bound/mean", "verdict")]
    columns += [f"{lower} / mean"] if lower else []
    columns += [
        f"{claim_label(name)}: {what}"
        for name in per_run
        for what in (f"{_per_run_label(name)} / TV", "verdict (per run)")
    ]
    held_out = any("nll" in cell.measured for cell in cells)
    columns += ["held-out NLL (last gen.)"] if held_out else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for cell in cells:
        summary = cell.summary
        last = len(summary["mean"]) - 1
        half = summary["ci_high"][last] - summary["mean"][last]
        sides = {side["claim"]: side for side in upper_sides(cell)}
        collapsed = summary.get("collapsed")
        note = f" ({collapsed} of {cell.spec.replicates} replicates collapsed, at TV 1)" if collapsed else ""
        row = f"| {cell.label} | {fmt(summary['mean'][last])} ± {half:.4f}{note} |"
        for claim in claims:
            side = sides.get(claim)
            row += f" {ratio_text(side)} | {verdict_text(side) if side else 'no bound'} |"
        if lower:
            jensen = next((side for side in side_records(cell) if side["side"] == "lower"), None)
            row += f" {ratio_text(jensen)} |"
        for name in per_run:
            record = cell.claims.get(name)
            if record is None:
                row += f" — | no {_per_run_label(name)} |"
            else:
                verdict = record.verdicts["per_run"]
                ratios = per_run_ratios([{"tv": cell.tv, "values": record.values["upper"]}])
                held, runs = verdict["runs_held"], verdict["runs"]
                state = "holds on every run" if held == runs else f"**VIOLATED** on {runs - held} runs"
                row += f" {min(ratios):.2f}–{max(ratios):.2f} | {state} ({held} / {runs}) |"
        if held_out:
            row += f" {_nll_text(cell.measured.get('nll'))} |"
        lines.append(row)
    return lines


def _nll_text(values) -> str:
    """The replicates' mean held-out NLL at the last generation, over the finite ones, and how many are infinite (a
    collapsed or zero-density fit)."""
    if values is None:
        return "—"
    last = np.asarray(values, dtype=float)[:, -1]
    finite = last[np.isfinite(last)]
    text = f"{finite.mean():.3f}" if finite.size else "—"
    return text + (f" ({last.size - finite.size} infinite)" if finite.size < last.size else "")


def _columns(cell: CellRecord) -> tuple:
    """The claims a cell's row has columns for: its upper bound sides, a lower side, its per-run claims (and whether its
    distance is TV or a sample-only model's TV witness)."""
    return (
        cell.summary.get("quantity", "tv"),
        tuple(side["claim"] for side in upper_sides(cell)),
        any(side["side"] == "lower" for side in side_records(cell)),
        tuple(name for name, record in cell.claims.items() if "per_run" in record.verdicts and _in_table(name)),
        "nll" in cell.measured,
    )


def _column_groups(cells: list[CellRecord]) -> list[list[CellRecord]]:
    """The cells grouped by the columns their rows have (:func:`_columns`), in the order each group first appears, so a
    table's columns are those of its rows and no row is a line of "no bound"."""
    groups: dict[tuple, list[CellRecord]] = {}
    for cell in cells:
        groups.setdefault(_columns(cell), []).append(cell)
    return list(groups.values())


def _tally(cells: list[CellRecord]) -> list[str]:
    """Headline lines: per upper bound, cells checked / refuted / underpowered / outside the theory, ratios and power."""
    lines = []
    by_claim = defaultdict(list)
    for cell in cells:
        for side in upper_sides(cell):
            by_claim[(side["status"], claim_label(side["claim"]))].append(side)
    for (status, label), checks in sorted(by_claim.items()):
        inside = [c for c in checks if not c["outside_theory"]]
        checked = [c for c in inside if not c["verdict"]["underpowered"] and not c["verdict"].get("witness")]
        refuted, _, beyond, underpowered, sample_only = counts(inside)
        tightness = np.array([x for c in checked for x in finite_tightness(c)])
        detectable = [c["verdict"]["detectable_ratio"] for c in checked]
        text = f"- **{label}** ({status}): {len(checked)} cells checked, **{refuted} refuted**"
        if beyond:
            text += f", **{beyond} with the mean TV above the bound** (not significant)"
        text += f", {underpowered} underpowered (not counted)"
        if sample_only:
            text += f", {sample_only} not refuted by the TV witness of a sample-only model (never counted as held)"
        if len(checks) > len(inside):
            text += f", {len(checks) - len(inside)} outside the theory (reused pool, reported only)"
        if tightness.size:
            text += (
                f"; bound / mean TV median {np.median(tightness):.2f} (min {tightness.min():.2f}, max {tightness.max():.2f}); "
                f"median detectable ratio {np.median(detectable):.2f}"
            )
        lines.append(text + ".")
    return lines


_SCENARIO_ORDER = ("fully_synthetic", "mixed_fresh", "mixed_reused", "accumulate", "growing_synthetic")
_SCENARIO_NOTES = {
    "mixed_reused": "The real points come from one fixed pool: this breaks the independence the bounds assume, so each bound is "
    "evaluated at its fresh-data value and its verdict is reported, not expected.",
    "accumulate": "Beyond the paper (Gerstgrasser et al. 2024): every generation keeps all earlier points.",
}


def bounds_appendix() -> list[str]:
    """Every registered bound, with its formula, definitions, provenance and status."""
    lines = [
        "## Appendix: the bounds",
        "",
        "Every registered bound (`selfloop.bounds.register`), with its provenance and status; derivations in docs/theory.md.",
        "",
    ]
    for name, bound in sorted(registered_bounds().items()):
        side = "" if bound.side == "upper" else ", a lower bound"
        lines += [f"### `{name}` ({bound.source.status}{side})", "", bound.statement, "", f"$$ {bound.latex()} $$", ""]
        if bound.definitions:
            lines += ["where", ""] + [f"$$ {definition} $$" for definition in bound.latex_definitions()] + [""]
        lines += [f"Source: {bound.source.theorem}. {bound.source.note}", ""]
    return lines


def render(results: dict, out: Path, workers: int = 1) -> Path:
    """Write tightness.md and figures into ``out`` (created if needed); returns the markdown path. A document of an
    earlier format is read through :func:`selfloop.reports.legacy.upgrade`, then typed
    (:class:`selfloop.reports.records.ResultsDocument`), as every claim's report hooks see it. The scenario figures
    are drawn in ``workers`` forked processes."""
    document = ResultsDocument.from_dict(upgrade(results))
    meta = document.meta
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in (*FIGURE_PATTERNS, *(pattern for claim in CLAIMS.values() for pattern in claim.figures)):
        for stale in out.glob(pattern):
            stale.unlink()
    cells = document.cells
    styles = {claim.id: claim.line_style for claim in CLAIMS.values()}
    figures = figure_scenarios(cells, out, _in_table, styles, workers)
    lines = [
        "# Tightness of the self-consuming-loop TV bounds",
        "",
        "Fu, Zhang, Wang, Tian, Tao, *Towards Theoretical Understandings of Self-Consuming Generative Models*, ICML 2024 (arXiv:2402.11778).",
        "",
        f"Suite `{document.suite}`, seed {document.seed}, scloop {meta['package_version']}, commit `{meta['git_commit']}`"
        + (
            f"; {meta['cells_from_cache']} of {len(cells)} cells from the cache (same seed and code)."
            if meta.get("cells_from_cache")
            else "."
        ),
        "",
        *claims_lines(document),
        "## Headline",
        "",
        f"{len(cells)} cells. Each bound is tested by mixture betting at level {meta['alpha']:g} per cell; a cell counts as checked only "
        "when the test could see a violation by a factor 2 with probability 0.9 (its *detectable ratio* is at most 2).",
        "",
    ]
    lines += _tally(cells)
    outside = [side for cell in cells for side in upper_sides(cell) if side["outside_theory"]]
    below = [c for c in outside if min(c["verdict"]["tightness"]) < 1]
    if outside:
        lines.append(
            f"- **Outside the theory** (reused real pool, each bound at its fresh-data value): {sum(c['verdict']['refuted'] for c in outside)} of "
            f"{len(outside)} checks refuted; the mean TV exceeds the fresh-data value somewhere in {len(below)} of them"
            + (f" (bound / mean down to {min(min(c['verdict']['tightness']) for c in below):.2f})" if below else "")
            + ": sharing the real points across generations inflates the fluctuations the bounds assume independent."
        )
    for claim in CLAIMS.values():
        lines += claim.headline(document)
    if any(upper_sides(cell) for cell in cells):
        figure_summary(cells, out, list(CLAIMS))
        lines += ["", "![summary: tightness against detectable ratio](summary.png)", ""]
    lines += ["## Results by scenario", ""]
    groups = defaultdict(list)
    for cell in cells:
        if cell.spec.kind == "loop":
            groups[_scenario_group(cell)].append(cell)
    for kind in sorted(
        groups, key=lambda k: (_SCENARIO_ORDER.index(k) if k in _SCENARIO_ORDER else len(_SCENARIO_ORDER), k)
    ):
        members = groups[kind]
        lines += [f"### {kind.replace('_', ' ')}", ""]
        if kind in _SCENARIO_NOTES:
            lines += [_SCENARIO_NOTES[kind], ""]
        for claim in CLAIMS.values():
            lines += claim.table_note(members)
        for group in _column_groups(members):  # one table per set of columns: each row has every column's claim
            lines += _cell_table(group) + [""]
        lines += [f"![{kind}]({name})" for name in figures[kind]] + [""]
    for claim in CLAIMS.values():
        lines += claim.section(document, out)
    lines += bounds_appendix()
    path = out / "tightness.md"
    write_atomic(path, "\n".join(lines))
    return path
